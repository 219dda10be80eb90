"""Plans: what an organization can subscribe to. A plan is a key ("team") with versions; changing its prices or
limits adds a version, and subscriptions keep the version they bought until they change plan. Money is integer
minor units (cents) with an ISO 4217 currency; plans are the platform's, not an organization's (no RLS)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.billing.enums import Metric, PlanStatus
from webapp.core.db import Base, Timestamps, UUIDPrimaryKey
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
