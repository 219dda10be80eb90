"""What an organization used in a billing period, read from the rollups: each metric's total, what the plan
includes, the overage it comes to so far, a forecast for the whole period, and the day-by-day series.

Usage is counted in whole UTC hours (the hour a period starts in belongs to it); unique counts are taken from the
raw events of the period, since distinct values cannot be added up across hours."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.billing import entitlements, subscriptions
from webapp.billing.models import Plan
from webapp.usage.enums import Aggregation

_METRICS = text("SELECT code, name, unit, aggregation, plan_metric FROM usage_billable_metrics ORDER BY code")

_TOTALS = text("""
    SELECT a.metric_code AS code,
        CASE m.aggregation WHEN 'max' THEN max(a.value)
            WHEN 'latest' THEN (array_agg(a.value ORDER BY a.last_event_at DESC))[1]
            ELSE sum(a.value) END AS total
    FROM usage_aggregates a JOIN usage_billable_metrics m ON m.code = a.metric_code
    WHERE a.organization_id = :o AND a.granularity = 'hour' AND a.window_start >= :start AND a.window_start < :end
      AND m.aggregation <> 'unique_count'
    GROUP BY a.metric_code, m.aggregation
    UNION ALL
    SELECT e.metric_code, count(DISTINCT e.properties ->> m.field_name)::numeric
    FROM usage_metered_usage e JOIN usage_billable_metrics m ON m.code = e.metric_code
    WHERE e.organization_id = :o AND m.aggregation = 'unique_count' AND e.occurred_at >= :start AND e.occurred_at < :end
    GROUP BY e.metric_code
""")

_DAYS = text("""
    SELECT metric_code AS code, window_start, value FROM usage_aggregates
    WHERE organization_id = :o AND granularity = 'day' AND window_start >= :start AND window_start < :end
    ORDER BY metric_code, window_start
""")


@dataclass
class MetricUsage:
    """One metric over one period."""

    code: str
    name: str
    unit: str
    aggregation: Aggregation
    total: Decimal
    included: int | None  # None: the plan does not price this metric
    unit_size: int = 1
    overage_price_minor: int | None = None
    daily: list[tuple[date, Decimal]] = field(default_factory=list)  # value per UTC day (days without use: 0)
    forecast: Decimal | None = None  # the whole period's total at this pace (sums and counts only)

    @property
    def additive(self) -> bool:
        """Whether the period's total is the sum of its days (the chart then shows the running total)."""
        return self.aggregation in (Aggregation.SUM, Aggregation.COUNT)

    @property
    def over(self) -> Decimal:
        """Usage beyond what the plan includes."""
        return max(Decimal(0), self.total - self.included) if self.included is not None else Decimal(0)

    @property
    def overage_units(self) -> int:
        """Billable units beyond the included amount (each `unit_size`, a part of one counts as one)."""
        return math.ceil(self.over / self.unit_size) if self.overage_price_minor is not None else 0

    @property
    def overage_minor(self) -> int:
        """What the overage comes to so far, in minor units."""
        return self.overage_units * (self.overage_price_minor or 0)

    def cumulative(self) -> list[Decimal]:
        """The running total day by day."""
        total, out = Decimal(0), []
        for _, value in self.daily:
            total += value
            out.append(total)
        return out


@dataclass
class Report:
    """An organization's usage over one billing period."""

    period_start: datetime
    period_end: datetime
    currency: str
    plan_name: str
    metrics: list[MetricUsage]
    elapsed: float  # the part of the period gone by, 0..1


def _hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


async def period_bounds(session: AsyncSession, org_id: uuid.UUID, which: str) -> tuple[datetime, datetime, Plan]:
    """The current or previous billing period of the organization's subscription, and the plan whose limits apply."""
    state = await entitlements.standing(session, org_id)
    sub = state.subscription
    start, end = subscriptions.period_containing(sub.current_period_start, sub.interval, subscriptions.now())
    if which == "previous":
        months = 12 if sub.interval.value == "year" else 1
        start, end = subscriptions.add_months(start, -months), start
    return start, end, state.plan


async def usage_report(session: AsyncSession, org_id: uuid.UUID, which: str = "current") -> Report:
    """Every billable metric's use over the current (or previous) period, with the plan's allowances."""
    start, end, plan = await period_bounds(session, org_id, which)
    return await usage_between(session, org_id, start, end, plan)


async def usage_between(session: AsyncSession, org_id: uuid.UUID, start: datetime, end: datetime, plan: Plan) -> Report:
    """Every billable metric's use from `start` to `end`, against what `plan` includes."""
    now = subscriptions.now()
    span = {"o": org_id, "start": _hour_floor(start), "end": _hour_floor(end)}
    totals = {row.code: row.total for row in await session.execute(_TOTALS, span)}
    first_day = datetime.combine(start.date(), datetime.min.time(), tzinfo=start.tzinfo)
    by_day: dict[str, dict[date, Decimal]] = {}
    for row in await session.execute(_DAYS, span | {"start": first_day}):
        by_day.setdefault(row.code, {})[row.window_start.date()] = row.value
    last_day = min(end - timedelta(microseconds=1), max(now, start)).date()
    days = [start.date() + timedelta(days=i) for i in range((last_day - start.date()).days + 1)]
    meters = {str(m.metric): m for m in plan.meters}
    elapsed = min(1.0, max(0.0, (now - start) / (end - start)))
    metrics = []
    for row in await session.execute(_METRICS):
        meter = meters.get(row.plan_metric or "")
        usage = MetricUsage(
            code=row.code, name=row.name, unit=row.unit, aggregation=Aggregation(row.aggregation),
            total=totals.get(row.code, Decimal(0)), included=meter.included if meter else None,
            unit_size=meter.unit_size if meter else 1, overage_price_minor=meter.overage_price_minor if meter else None,
            daily=[(day, by_day.get(row.code, {}).get(day, Decimal(0))) for day in days],
        )  # fmt: skip
        if usage.additive:
            # a day's pace says little: forecast once a day has gone by
            usage.forecast = (usage.total / Decimal(elapsed)).quantize(Decimal("0.01")) if elapsed >= 1 / 28 else None
        metrics.append(usage)
    return Report(start, end, plan.currency, plan.name, metrics, elapsed)
