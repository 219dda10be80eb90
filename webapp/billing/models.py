"""Plans: what an organization can subscribe to. A plan is a key ("team") with versions; changing its prices or
limits adds a version, and subscriptions keep the version they bought until they change plan. Money is integer
minor units (cents) with an ISO 4217 currency; plans are the platform's, not an organization's (no RLS)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.billing.enums import (
    CheckoutStatus,
    EventStatus,
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
from webapp.core.db import Base, TenantOwned, Timestamps, UUIDPrimaryKey, Versioned
from webapp.core.enums import pg_enum


class Plan(UUIDPrimaryKey, Timestamps, Base):
    """One version of a plan: prices, seats and limits (NULL limit: none)."""

    __tablename__ = "billing_plans"
    __table_args__ = (
        Index("uq_billing_plans_key_version", "key", "version", unique=True),
        Index("uq_billing_plans_current_key", "key", unique=True, postgresql_where=text("status = 'current'")),
        Index("uq_billing_plans_default", "is_default", unique=True, postgresql_where=text("is_default")),
        CheckConstraint("key ~ '^[a-z][a-z0-9-]{1,39}$'", name="key_format"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint(
            "monthly_price_minor >= 0 AND yearly_price_minor >= 0 AND seat_price_minor >= 0", name="prices_nonnegative"
        ),
        CheckConstraint(
            "included_seats >= 1 AND (seat_limit IS NULL OR seat_limit >= included_seats)", name="seats_consistent"
        ),
        CheckConstraint(
            "(mission_limit IS NULL OR mission_limit >= 0) "
            "AND (storage_limit_bytes IS NULL OR storage_limit_bytes >= 0) "
            "AND (monthly_run_limit IS NULL OR monthly_run_limit >= 0)",
            name="limits_nonnegative",
        ),
        CheckConstraint("NOT is_default OR (status = 'current' AND monthly_price_minor = 0)", name="default_is_free"),
        CheckConstraint("monthly_credits >= 0", name="monthly_credits_nonnegative"),
        CheckConstraint("api_requests_per_minute IS NULL OR api_requests_per_minute >= 1", name="api_rate_positive"),
    )

    key: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, server_default="")
    status: Mapped[PlanStatus] = mapped_column(
        pg_enum(PlanStatus, "billing_plan_status"), server_default=PlanStatus.CURRENT.value
    )
    is_default: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))  # new organizations start here
    currency: Mapped[str] = mapped_column(String(3), server_default="USD")
    monthly_price_minor: Mapped[int] = mapped_column(BigInteger)
    yearly_price_minor: Mapped[int] = mapped_column(BigInteger)
    seat_price_minor: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))  # a month, past included
    included_seats: Mapped[int] = mapped_column(Integer)
    seat_limit: Mapped[int | None] = mapped_column(Integer)
    mission_limit: Mapped[int | None] = mapped_column(Integer)
    storage_limit_bytes: Mapped[int | None] = mapped_column(BigInteger)
    monthly_run_limit: Mapped[int | None] = mapped_column(Integer)
    # the organization's API requests a minute (all its keys and members together); None: the platform's setting
    api_requests_per_minute: Mapped[int | None] = mapped_column(Integer)
    # simulation credits granted each month of the subscription, expiring at the month's end
    monthly_credits: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    superseded_at: Mapped[datetime | None]

    meters: Mapped[list[PlanMeter]] = relationship(
        back_populates="plan", order_by="PlanMeter.metric", lazy="selectin", cascade="all, delete-orphan"
    )


class PlanMeter(Base):
    """What a plan version includes of one metric each month, and the price of each `unit_size` beyond it (NULL:
    no overage — the included amount is a hard limit)."""

    __tablename__ = "billing_plan_meters"
    __table_args__ = (
        CheckConstraint("included >= 0", name="included_nonnegative"),
        CheckConstraint("unit_size >= 1", name="unit_size_positive"),
        CheckConstraint("overage_price_minor IS NULL OR overage_price_minor >= 0", name="overage_nonnegative"),
    )

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing_plans.id", ondelete="CASCADE"), primary_key=True)
    metric: Mapped[Metric] = mapped_column(pg_enum(Metric, "billing_metric"), primary_key=True)
    included: Mapped[int] = mapped_column(BigInteger)
    unit_size: Mapped[int] = mapped_column(BigInteger, server_default=text("1"))
    overage_price_minor: Mapped[int | None] = mapped_column(BigInteger)

    plan: Mapped[Plan] = relationship(back_populates="meters")


class Subscription(UUIDPrimaryKey, TenantOwned, Timestamps, Versioned, Base):
    """An organization's one subscription: the plan version it holds, its paid seats and where the provider has it.
    Every organization has one from its first moment (the default, free plan, with no provider)."""

    __tablename__ = "billing_subscriptions"
    __table_args__ = (
        Index(
            "uq_billing_subscriptions_provider_ref",
            "provider",
            "provider_subscription_id",
            unique=True,
            postgresql_where=text("provider_subscription_id IS NOT NULL"),
        ),
        CheckConstraint("seats >= 1 AND (provider_seats IS NULL OR provider_seats >= 1)", name="seats_positive"),
        CheckConstraint("current_period_end > current_period_start", name="period_forward"),
        CheckConstraint("(provider IS NULL) = (provider_subscription_id IS NULL)", name="provider_has_reference"),
        CheckConstraint("status <> 'past_due' OR past_due_since IS NOT NULL", name="past_due_has_start"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(  # one per organization; its unique index serves lookups
        ForeignKey("organizations.id", ondelete="CASCADE"), unique=True
    )
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing_plans.id"), index=True)
    status: Mapped[SubscriptionStatus] = mapped_column(
        pg_enum(SubscriptionStatus, "billing_subscription_status"), server_default=SubscriptionStatus.ACTIVE.value
    )
    interval: Mapped[Interval] = mapped_column(pg_enum(Interval, "billing_interval"), server_default="month")
    seats: Mapped[int] = mapped_column(Integer)  # paid seats, as the gates count them
    provider_seats: Mapped[int | None] = mapped_column(Integer)  # the provider's quantity, as it last reported
    provider: Mapped[Provider | None] = mapped_column(pg_enum(Provider, "billing_provider"))
    provider_customer_id: Mapped[str | None] = mapped_column(String(255))
    provider_subscription_id: Mapped[str | None] = mapped_column(String(255))
    current_period_start: Mapped[datetime] = mapped_column()
    current_period_end: Mapped[datetime] = mapped_column()
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    canceled_at: Mapped[datetime | None] = mapped_column()
    past_due_since: Mapped[datetime | None] = mapped_column()
    trial_ends_at: Mapped[datetime | None] = mapped_column()
    # the provider's time of the newest state applied: an older event arriving late cannot undo a newer one
    provider_state_at: Mapped[datetime | None] = mapped_column()

    plan: Mapped[Plan] = relationship(lazy="joined")


class Checkout(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A plan bought through a provider's checkout page: what was chosen, and whether it was paid."""

    __tablename__ = "billing_checkouts"
    __table_args__ = (
        CheckConstraint("seats >= 1", name="seats_positive"),
        Index("uq_billing_checkouts_provider_ref", "provider", "provider_checkout_id", unique=True),
    )

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing_plans.id"))
    interval: Mapped[Interval] = mapped_column(pg_enum(Interval, "billing_interval"))
    seats: Mapped[int] = mapped_column(Integer)
    provider: Mapped[Provider] = mapped_column(pg_enum(Provider, "billing_provider"))
    provider_checkout_id: Mapped[str] = mapped_column(String(255))
    checkout_url: Mapped[str | None] = mapped_column(String(2000))  # a provider's hosted page (the sandbox's is ours)
    status: Mapped[CheckoutStatus] = mapped_column(
        pg_enum(CheckoutStatus, "billing_checkout_status"), server_default=CheckoutStatus.OPEN.value
    )
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()


class PaymentEvent(UUIDPrimaryKey, Base):
    """A provider's webhook event, stored once (provider + its event id) with the verified body as it came; the worker
    applies it and records the outcome. Unknown types are kept and ignored."""

    __tablename__ = "billing_payment_events"
    __table_args__ = (
        Index("uq_billing_payment_events_provider_event", "provider", "event_id", unique=True),
        Index(
            "ix_billing_payment_events_payload",
            "payload",
            postgresql_using="gin",
            postgresql_ops={"payload": "jsonb_path_ops"},
        ),
        Index("ix_billing_payment_events_received", "received_at"),
        Index("ix_billing_payment_events_org", "organization_id", "received_at"),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
    )

    provider: Mapped[Provider] = mapped_column(pg_enum(Provider, "billing_provider"))
    event_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(120))
    payload: Mapped[dict] = mapped_column(JSONB)
    occurred_at: Mapped[datetime | None] = mapped_column()  # the provider's time of the event
    received_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    status: Mapped[EventStatus] = mapped_column(
        pg_enum(EventStatus, "billing_event_status"), server_default=EventStatus.RECEIVED.value
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column()
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id", ondelete="SET NULL"))


class Invoice(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A finalized invoice (or credit note) of one subscription period. Amounts are the sums of its lines by kind,
    in minor units, and the database holds `total = subscription + usage + proration - refund` with every amount
    non-negative; once `finalized_at` is set a trigger refuses any change but its payment status."""

    __tablename__ = "billing_invoices"
    __table_args__ = (
        Index("uq_billing_invoices_number", "organization_id", "number", unique=True),
        Index(
            "uq_billing_invoices_provider_ref",
            "provider",
            "provider_invoice_id",
            unique=True,
            postgresql_where=text("provider_invoice_id IS NOT NULL"),
        ),
        Index("ix_billing_invoices_org_created", "organization_id", "created_at"),
        CheckConstraint(
            "subscription_amount >= 0 AND usage_amount >= 0 AND proration_amount >= 0 AND refund_amount >= 0 "
            "AND total_amount >= 0",
            name="amounts_nonnegative",
        ),
        CheckConstraint(
            "total_amount = subscription_amount + usage_amount + proration_amount - refund_amount", name="total_adds_up"
        ),
        CheckConstraint("period_end > period_start", name="period_forward"),
        CheckConstraint("number IS NULL OR number >= 1", name="number_positive"),
        CheckConstraint("finalized_at IS NULL OR number IS NOT NULL", name="finalized_numbered"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint("(kind = 'credit_note') = (corrects_id IS NOT NULL)", name="credit_note_corrects"),
    )

    subscription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing_subscriptions.id"), index=True)
    kind: Mapped[InvoiceKind] = mapped_column(
        pg_enum(InvoiceKind, "billing_invoice_kind"), server_default=InvoiceKind.INVOICE.value
    )
    corrects_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("billing_invoices.id"))
    number: Mapped[int | None] = mapped_column(Integer)  # per organization, without gaps, given when finalized
    status: Mapped[InvoiceStatus] = mapped_column(pg_enum(InvoiceStatus, "billing_invoice_status"))
    provider: Mapped[Provider | None] = mapped_column(pg_enum(Provider, "billing_provider"))
    provider_invoice_id: Mapped[str | None] = mapped_column(String(255))
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing_plans.id"))
    currency: Mapped[str] = mapped_column(String(3), server_default="USD")
    period_start: Mapped[datetime] = mapped_column()
    period_end: Mapped[datetime] = mapped_column()
    subscription_amount: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    usage_amount: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    proration_amount: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    refund_amount: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    total_amount: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    finalized_at: Mapped[datetime | None] = mapped_column()
    paid_at: Mapped[datetime | None] = mapped_column()

    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.position", lazy="selectin"
    )


class InvoiceLine(UUIDPrimaryKey, TenantOwned, Base):
    """One line of an invoice: what it charges (or gives back) for, quantity and amount in minor units."""

    __tablename__ = "billing_invoice_lines"
    __table_args__ = (
        Index("uq_billing_invoice_lines_position", "invoice_id", "position", unique=True),
        CheckConstraint("amount >= 0", name="amount_nonnegative"),
        CheckConstraint("quantity >= 0", name="quantity_nonnegative"),
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing_invoices.id"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[LineKind] = mapped_column(pg_enum(LineKind, "billing_line_kind"))
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(BigInteger, server_default=text("1"))
    amount: Mapped[int] = mapped_column(BigInteger)  # a refund line's amount is what is given back (positive)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class Payment(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A one-time payment (simulation credits): what was bought, how much, and whether the provider took it."""

    __tablename__ = "billing_payments"
    __table_args__ = (
        Index("uq_billing_payments_provider_ref", "provider", "provider_payment_id", unique=True),
        Index("ix_billing_payments_org_created", "organization_id", "created_at"),
        CheckConstraint("quantity >= 1 AND quantity <= 1000", name="quantity_range"),
        CheckConstraint("unit_price_minor >= 0 AND amount_minor = unit_price_minor * quantity", name="amount_adds_up"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint("(status = 'succeeded') <= (paid_at IS NOT NULL)", name="paid_has_time"),
    )

    product: Mapped[OneTimeProduct] = mapped_column(pg_enum(OneTimeProduct, "billing_one_time_product"))
    description: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), server_default="USD")
    status: Mapped[PaymentStatus] = mapped_column(
        pg_enum(PaymentStatus, "billing_payment_status"), server_default=PaymentStatus.PENDING.value
    )
    provider: Mapped[Provider] = mapped_column(pg_enum(Provider, "billing_provider"))
    provider_payment_id: Mapped[str] = mapped_column(String(255))
    checkout_url: Mapped[str | None] = mapped_column(String(2000))  # the provider's page (None: the sandbox's)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    paid_at: Mapped[datetime | None] = mapped_column()
