"""JSON shapes of billing."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from webapp.billing.enums import (
    CheckoutStatus,
    Interval,
    InvoiceKind,
    InvoiceStatus,
    LineKind,
    Metric,
    OneTimeProduct,
    PaymentStatus,
    PlanStatus,
    Provider,
    SubscriptionStatus,
)
from webapp.core.openapi import VERSION, Body, whole


class MeterOut(BaseModel):
    """What a plan includes of one metric each month, and the price of each `unit_size` beyond it."""

    metric: Metric
    included: int = Field(description="Included each month, in the metric's own units")
    unit_size: int = Field(description="Overage is priced per this many units")
    overage_price_minor: int | None = Field(
        description="Price of each `unit_size` beyond `included`, in minor units; null: no overage (a hard limit)"
    )


class PlanOut(BaseModel):
    """One version of a plan. Money is integer minor units (cents) of `currency`; a null limit is none."""

    id: uuid.UUID
    key: str = Field(description="The plan across its versions, e.g. `crew`")
    version: int
    name: str
    description: str
    status: PlanStatus
    is_default: bool = Field(description="New organizations start on this plan")
    currency: str
    monthly_price_minor: int
    yearly_price_minor: int
    seat_price_minor: int = Field(description="A month, for each seat beyond `included_seats`")
    included_seats: int
    seat_limit: int | None
    mission_limit: int | None
    storage_limit_bytes: int | None
    monthly_run_limit: int | None
    monthly_credits: int = Field(description="Credits granted at the start of each month, expiring at its end")
    api_requests_per_minute: int | None = Field(
        description="API requests a minute for the whole organization; null: the platform's default"
    )
    meters: list[MeterOut]
    created_at: datetime


class PlanList(BaseModel):
    """The plans offered now, cheapest first."""

    items: list[PlanOut]


class UsageOut(BaseModel):
    """How much of one limited thing is used, against what the plan allows (null: no limit)."""

    limit: str = Field(description="seats, missions, simulation_runs (this period) or storage_bytes")
    used: int
    allowed: int | None


class SubscriptionOut(BaseModel):
    """The organization's subscription and what it gives now."""

    id: uuid.UUID
    plan: PlanOut = Field(description="The plan version the subscription holds")
    limits_plan_id: uuid.UUID = Field(
        description="The plan whose limits apply now (the default plan while the subscription is paused, incomplete "
        "or canceled)"
    )
    status: SubscriptionStatus
    interval: Interval
    seats: int = Field(description="Paid seats (the provider's quantity)")
    provider: Provider | None = Field(description="Who collects the payments; null on the free plan")
    current_period_start: datetime
    current_period_end: datetime
    cancel_at_period_end: bool
    past_due_since: datetime | None
    grace_ends_at: datetime | None = Field(description="When past_due: the organization turns read-only then")
    read_only: bool = Field(description="A payment is overdue past the grace period: only reading works")
    usage: list[UsageOut]
    version: int


class CheckoutIn(Body):
    """Start buying a plan: the provider's checkout page takes the payment."""

    plan_id: uuid.UUID = Field(description="A current plan's id (GET /billing/plans)")
    interval: Interval = Interval.MONTH
    seats: VERSION | None = Field(None, description="Paid seats; default: everyone who holds or is promised one")


class CheckoutOut(BaseModel):
    """A checkout: send the person to `checkout_url`; the plan changes when the provider's webhook says it is paid."""

    id: uuid.UUID
    status: CheckoutStatus
    provider: Provider
    plan_id: uuid.UUID
    interval: Interval
    seats: int
    checkout_url: str
    expires_at: datetime


class WebhookAck(BaseModel):
    """The event was stored (or had been already): processing continues on a worker."""

    received: bool
    duplicate: bool = Field(description="An event with this id was stored before; nothing new was done")
    event_id: str
    type: str


class InvoiceLineOut(BaseModel):
    """One line: what it charges (or, for a refund, gives back) in minor units."""

    position: int
    kind: LineKind
    description: str
    quantity: int
    amount: int = Field(description="Minor units, never negative; a refund line's amount is given back")


class InvoiceOut(BaseModel):
    """A finalized invoice (or credit note). `total_amount = subscription_amount + usage_amount + proration_amount -
    refund_amount`, in minor units of `currency`."""

    id: uuid.UUID
    number: int = Field(description="Per organization, without gaps")
    display_number: str = Field(description="As printed, e.g. CL-LUNAR-0007")
    kind: InvoiceKind
    corrects_id: uuid.UUID | None = Field(description="For a credit note: the invoice it corrects")
    status: InvoiceStatus
    subscription_id: uuid.UUID
    plan_id: uuid.UUID
    currency: str
    period_start: datetime
    period_end: datetime
    subscription_amount: int
    usage_amount: int
    proration_amount: int
    refund_amount: int
    total_amount: int
    finalized_at: datetime
    paid_at: datetime | None
    lines: list[InvoiceLineOut]


class InvoiceList(BaseModel):
    """The organization's invoices and credit notes, newest first."""

    items: list[InvoiceOut]


class ChangeQuery(BaseModel):
    """A change to price before confirming it (each left out stays as it is)."""

    model_config = ConfigDict(extra="ignore")

    plan_id: uuid.UUID | None = Field(None, description="A current plan's id")
    seats: int | None = Field(None, ge=1, le=1_000_000)
    interval: Interval | None = None


class ChangeIn(Body):
    """Change the plan, seats or interval (prorated), or set the subscription to end with its period (or not)."""

    plan_id: uuid.UUID | None = None
    seats: VERSION | None = None
    interval: Interval | None = None
    cancel_at_period_end: bool | None = Field(None, description="true: end with the period; false: resume")
    version: VERSION = Field(description="The subscription's version as read; a stale one is a 409")


class ChangePreview(BaseModel):
    """What a change costs now, in minor units of `currency`: the unused part of the current price is credited
    and the rest of the period charged at the new price."""

    plan_id: uuid.UUID
    seats: int
    interval: Interval
    currency: str
    old_price_minor: int = Field(description="A whole period at the current plan and seats")
    new_price_minor: int = Field(description="A whole period at the new plan and seats")
    credit_minor: int
    charge_minor: int
    amount_due_minor: int = Field(description="Collected now")
    credit_left_minor: int = Field(description="Given back now")
    period_start: datetime
    period_end: datetime


class ChangeRequested(BaseModel):
    """The provider was asked; the subscription changes when its webhook confirms (GET it to see)."""

    requested: bool
    preview: ChangePreview | None = Field(description="For a plan, seat or interval change: what it costs")


class VersionQuery(BaseModel):
    """The version read, for a change without a body."""

    model_config = ConfigDict(extra="ignore")

    version: int | None = Field(None, ge=1, le=2**31 - 1, description="The subscription's version as read")


class OneTimeIn(Body):
    """Buy something once (simulation credits): paid at the provider's page."""

    product: OneTimeProduct
    quantity: whole(1, 1000) = 1


class PaymentOut(BaseModel):
    """A one-time payment; `amount_minor = unit_price_minor × quantity`."""

    id: uuid.UUID
    product: OneTimeProduct
    description: str
    quantity: int
    unit_price_minor: int
    amount_minor: int
    currency: str
    status: PaymentStatus
    provider: Provider
    created_at: datetime
    paid_at: datetime | None
    checkout_url: str | None = Field(description="Where to pay, while the payment is pending")


class PaymentList(BaseModel):
    """The organization's one-time payments, newest first."""

    items: list[PaymentOut]
