"""JSON shapes of credits and usage."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from webapp.core.openapi import Body, whole
from webapp.usage.enums import Aggregation, EntryKind, HoldStatus


class HoldOut(BaseModel):
    """Credits reserved for work under way."""

    id: uuid.UUID
    amount: int
    status: HoldStatus
    subject: str = Field(description="What holds them, e.g. `simulation_run:<id>`")
    description: str
    created_at: datetime


class CreditsOut(BaseModel):
    """The organization's credits: `available = balance - held`."""

    balance: int
    held: int
    available: int
    holds: list[HoldOut] = Field(description="Holds not resolved yet, newest first")


class EntryOut(BaseModel):
    """One ledger entry: what changed and the account after it."""

    id: uuid.UUID
    kind: EntryKind
    amount: int = Field(description="Change to the balance (negative: spent or taken)")
    held_change: int = Field(description="Change to what is held")
    balance_after: int
    held_after: int
    idempotency_key: str
    reason: str
    actor_id: uuid.UUID | None
    hold_id: uuid.UUID | None
    expires_at: datetime | None
    created_at: datetime


class AdjustIn(Body):
    """A correction: credits taken (negative) or, by ClosedLoop staff only, given (positive)."""

    amount: whole(-1_000_000_000, 1_000_000_000) = Field(description="Non-zero; negative takes credits away")
    reason: str = Field(min_length=3, max_length=500)
    idempotency_key: str | None = Field(
        default=None, min_length=1, max_length=200, description="Sending the same key again changes nothing more"
    )


class DayOut(BaseModel):
    """One UTC day's value of a metric."""

    date: date
    value: float


class MetricUsageOut(BaseModel):
    """One billable metric over the period."""

    code: str
    name: str
    unit: str
    aggregation: Aggregation
    total: float = Field(description="The period's value so far (sum, count, peak, latest or distinct count)")
    included: int | None = Field(description="What the plan includes; null when the plan does not price it")
    overage_units: int = Field(description="Billable units beyond the included amount so far")
    overage_amount_minor: int = Field(description="What those units come to, in minor units of `currency`")
    forecast: float | None = Field(description="The whole period at this pace (sums and counts, once a day is past)")
    daily: list[DayOut]


class UsageOut(BaseModel):
    """The organization's usage in one billing period (counted in whole UTC hours)."""

    period_start: datetime
    period_end: datetime
    currency: str
    plan: str
    metrics: list[MetricUsageOut]


class UsageQuery(BaseModel):
    """Which billing period."""

    model_config = ConfigDict(extra="ignore")

    period: Literal["current", "previous"] = Field("current", description="The current or the previous period")


class OverageOut(BaseModel):
    """Usage of one metric beyond the plan in a closed period, as billed: `amount_minor = billable_units ×
    unit_price_minor`."""

    id: uuid.UUID
    metric_code: str
    period_start: datetime
    period_end: datetime
    included: int
    used: float
    unit_size: int
    billable_units: int
    unit_price_minor: int
    amount_minor: int
    currency: str
    invoice_id: uuid.UUID | None
    created_at: datetime
