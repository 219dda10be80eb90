"""Metered usage: the billable metrics, the append-only events (partitioned by month), the keys that make each
`transaction_id` count once per organization across partitions, the hours whose rollups are stale, the hourly
and daily rollups every read is served from, and each closed period's overage fees."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Numeric, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import Base, TenantOwned, UUIDPrimaryKey
from webapp.core.enums import pg_enum
from webapp.usage.enums import Aggregation, Granularity

QUANTITY = Numeric(20, 6)


class BillableMetric(Base):
    """What is counted and how a window's events become one number (Lago's aggregation types)."""

    __tablename__ = "usage_billable_metrics"
    __table_args__ = (
        CheckConstraint("code ~ '^[a-z][a-z0-9_]{0,59}$'", name="code_format"),
        CheckConstraint(
            "(aggregation = 'unique_count') = (field_name IS NOT NULL)", name="unique_count_names_its_field"
        ),
    )

    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, server_default="")
    aggregation: Mapped[Aggregation] = mapped_column(pg_enum(Aggregation, "usage_aggregation"))
    field_name: Mapped[str | None] = mapped_column(String(60))  # the property a unique count counts
    unit: Mapped[str] = mapped_column(String(30), server_default="")
    plan_metric: Mapped[str | None] = mapped_column(String(60))  # the plan meter it is billed against, if any
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class MeteredUsage(Base):
    """One usage event, never changed (the app role may insert and read; a trigger refuses the rest). Partitioned
    by month of `occurred_at`; its uniqueness lives in `usage_transaction_keys`, which is not partitioned."""

    __tablename__ = "usage_metered_usage"
    __table_args__ = (
        Index("ix_usage_metered_usage_org_metric_time", "organization_id", "metric_code", "occurred_at"),
        CheckConstraint("quantity >= 0", name="quantity_nonnegative"),
        {"postgresql_partition_by": "RANGE (occurred_at)"},
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    transaction_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(primary_key=True)
    metric_code: Mapped[str] = mapped_column(ForeignKey("usage_billable_metrics.code"))
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    properties: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())


class UsageTransactionKey(Base):
    """A `transaction_id` seen for an organization: the idempotency key, unique whatever month the event fell in."""

    __tablename__ = "usage_transaction_keys"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    transaction_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column()  # kept to prune keys with their partition


class DirtyWindow(Base):
    """An hour whose rollups are behind its events: marked in the statement that stores them, cleared by the
    rollup that recomputes the hour and its day."""

    __tablename__ = "usage_dirty_windows"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    metric_code: Mapped[str] = mapped_column(ForeignKey("usage_billable_metrics.code"), primary_key=True)
    hour_start: Mapped[datetime] = mapped_column(primary_key=True)
    marked_at: Mapped[datetime] = mapped_column(server_default=func.now())


class UsageAggregate(Base):
    """One metric's value over one hour or one day (UTC) of one organization, recomputed whole from the events."""

    __tablename__ = "usage_aggregates"
    __table_args__ = (CheckConstraint("events >= 1", name="has_events"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    metric_code: Mapped[str] = mapped_column(ForeignKey("usage_billable_metrics.code"), primary_key=True)
    granularity: Mapped[Granularity] = mapped_column(pg_enum(Granularity, "usage_granularity"), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    value: Mapped[Decimal] = mapped_column(QUANTITY)
    events: Mapped[int] = mapped_column(BigInteger)
    last_event_at: Mapped[datetime] = mapped_column()  # what a `latest` over several windows picks by
    computed_at: Mapped[datetime] = mapped_column(server_default=func.now())


class BillingPeriodClose(UUIDPrimaryKey, TenantOwned, Base):
    """A billing period whose usage was closed (once `usage.late_days` had passed after its end): its overage fees
    and, when they come to anything, the invoice that bills them."""

    __tablename__ = "usage_period_closes"
    __table_args__ = (
        Index("uq_usage_period_closes_period", "organization_id", "period_start", unique=True),
        CheckConstraint("period_end > period_start", name="period_forward"),
    )

    subscription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing_subscriptions.id"))
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing_plans.id"))
    period_start: Mapped[datetime] = mapped_column()
    period_end: Mapped[datetime] = mapped_column()
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("billing_invoices.id"))
    closed_at: Mapped[datetime] = mapped_column(server_default=func.now())


class OverageFee(UUIDPrimaryKey, TenantOwned, Base):
    """Usage of one metric beyond what the plan included in one period, priced: `amount = units × unit price`
    (CHECK), billed as a usage line of the period's invoice."""

    __tablename__ = "usage_overage_fees"
    __table_args__ = (
        Index("uq_usage_overage_fees_metric_period", "organization_id", "metric_code", "period_start", unique=True),
        Index("ix_usage_overage_fees_org_period", "organization_id", "period_start"),
        CheckConstraint("billable_units >= 1 AND unit_size >= 1 AND unit_price_minor >= 0", name="units_valid"),
        CheckConstraint("amount_minor = billable_units * unit_price_minor", name="amount_adds_up"),
        CheckConstraint("used > included", name="beyond_included"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
    )

    close_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("usage_period_closes.id"))
    metric_code: Mapped[str] = mapped_column(ForeignKey("usage_billable_metrics.code"))
    period_start: Mapped[datetime] = mapped_column()
    period_end: Mapped[datetime] = mapped_column()
    included: Mapped[int] = mapped_column(BigInteger)
    used: Mapped[Decimal] = mapped_column(QUANTITY)
    unit_size: Mapped[int] = mapped_column(BigInteger)
    billable_units: Mapped[int] = mapped_column(BigInteger)
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("billing_invoices.id"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
