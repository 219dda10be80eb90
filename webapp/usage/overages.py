"""Closing a billing period's usage: once `usage.late_days` have passed after a period ends (no event for it can
arrive any more), each priced metric's use beyond what the plan includes becomes an overage fee, and together they
become an invoice ClosedLoop issues (usage lines; the invoice's CHECKs hold its total). A period is closed once —
`usage_period_closes` is unique per organization and period — whether or not it came to anything."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webapp.billing import entitlements, invoices, subscriptions
from webapp.billing.enums import Interval, LineKind
from webapp.billing.models import Subscription
from webapp.core.ids import new_id
from webapp.core.tenancy import enable_rls_bypass, scope_session
from webapp.core.transaction import unit_of_work
from webapp.settings import queries as settings
from webapp.usage.metered import BillingPeriodClose, OverageFee
from webapp.usage.report import usage_between


def _money(minor: int, currency: str) -> str:
    return f"${minor / 100:,.2f}" if currency == "USD" else f"{minor / 100:,.2f} {currency}"


BACKFILL_PERIODS = 12  # periods a pass looks back for one left unclosed (the scheduler was down over a period end)


def _due_periods(sub: Subscription, now: datetime, late: timedelta) -> list[tuple[datetime, datetime]]:
    """The whole periods before the current one that no late event can reach any more and the organization lived
    through (part of), oldest first — each counted back from the current period's start in whole intervals."""
    current, _ = subscriptions.period_containing(sub.current_period_start, sub.interval, now)
    step = 12 if sub.interval == Interval.YEAR else 1
    periods = []
    for back in range(1, BACKFILL_PERIODS + 1):
        end = subscriptions.add_months(current, -step * (back - 1))
        if end <= sub.created_at:
            break
        if now >= end + late:
            periods.append((subscriptions.add_months(current, -step * back), end))
    return periods[::-1]


async def close_due_periods(session: AsyncSession, org_id: uuid.UUID) -> list[BillingPeriodClose]:
    """Close each period that is due and not closed yet, oldest first (so invoice numbers follow the periods);
    what was closed."""
    sub = await subscriptions.get_subscription(session, org_id, lock=True)  # one close at a time; invoice numbers
    late = timedelta(days=int(await settings.value_of(session, "usage.late_days")))
    due = _due_periods(sub, subscriptions.now(), late)
    if not due:
        return []
    found = await session.execute(
        select(BillingPeriodClose.period_start).where(
            BillingPeriodClose.organization_id == org_id,
            BillingPeriodClose.period_start.in_([start for start, _ in due]),
        )
    )
    closed_before = set(found.scalars())
    plan = (await entitlements.standing(session, org_id)).plan
    return [await _close(session, sub, plan, start, end) for start, end in due if start not in closed_before]


async def _close(session: AsyncSession, sub: Subscription, plan, start: datetime, end: datetime) -> BillingPeriodClose:
    """Bill one period's usage beyond `plan` (an invoice only when there is some) and record the close."""
    org_id = sub.organization_id
    report = await usage_between(session, org_id, max(start, sub.created_at), end, plan)
    over = [m for m in report.metrics if m.overage_units > 0]
    invoice_id = None
    if over:  # the invoice first: the close and its fees are written once, naming it
        lines = [
            invoices.Line(
                LineKind.USAGE,
                f"{m.name}: {m.total.normalize():,f} {m.unit} used, {m.included:,} included — "
                f"{m.overage_units:,} × {_money(m.overage_price_minor, report.currency)}"
                + (f" per {m.unit_size:,}" if m.unit_size > 1 else ""),
                m.overage_units, m.overage_minor,
            )
            for m in over
        ]  # fmt: skip
        invoice = await invoices.issue_own(
            session, sub, plan_id=plan.id, currency=report.currency, start=start, end=end, lines=lines
        )
        invoice_id = invoice.id
    closed = BillingPeriodClose(
        id=new_id(), organization_id=org_id, subscription_id=sub.id, plan_id=plan.id, period_start=start,
        period_end=end, invoice_id=invoice_id,
    )  # fmt: skip
    session.add(closed)
    await session.flush()
    fees = [
        OverageFee(
            id=new_id(), organization_id=org_id, close_id=closed.id, metric_code=m.code, period_start=start,
            period_end=end, included=m.included, used=m.total, unit_size=m.unit_size,
            billable_units=m.overage_units, unit_price_minor=m.overage_price_minor, amount_minor=m.overage_minor,
            currency=report.currency, invoice_id=invoice_id,
        )
        for m in over
    ]  # fmt: skip
    session.add_all(fees)
    await session.flush()
    return closed


async def close_due(maker: async_sessionmaker) -> int:
    """Close every organization's periods that are due (the scheduler, hourly); how many were closed."""
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="usage: find the periods to close")
        orgs = list((await session.execute(select(Subscription.organization_id))).scalars())
    closed = 0
    for org_id in orgs:
        async with unit_of_work(maker) as session:
            await scope_session(session, org_id=org_id)
            closed += len(await close_due_periods(session, org_id))
    return closed


async def list_fees(session: AsyncSession, org_id: uuid.UUID, limit: int = 100) -> list[OverageFee]:
    """The organization's overage fees, newest period first."""
    stmt = (
        select(OverageFee)
        .where(OverageFee.organization_id == org_id)
        .order_by(OverageFee.period_start.desc(), OverageFee.metric_code)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())
