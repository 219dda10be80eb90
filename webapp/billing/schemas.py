"""JSON shapes of billing."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from webapp.billing.enums import Metric, PlanStatus


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
    meters: list[MeterOut]
    created_at: datetime


class PlanList(BaseModel):
    """The plans offered now, cheapest first."""

    items: list[PlanOut]
