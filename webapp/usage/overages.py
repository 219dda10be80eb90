"""Closing a billing period's usage: once `usage.late_days` have passed after a period ends (no event for it can
arrive any more), each priced metric's use beyond what the plan includes becomes an overage fee, and together they
become an invoice ClosedLoop issues (usage lines; the invoice's CHECKs hold its total). A period is closed once —
`usage_period_closes` is unique per organization and period — whether or not it came to anything."""

from __future__ import annotations

import uuid
from datetime import timedelta

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


async def close_last_period(session: AsyncSession, org_id: uuid.UUID) -> BillingPeriodClose | None:
    """Close the period before the current one when it is due and not closed yet (None otherwise)."""
    sub = await subscriptions.get_subscription(session, org_id, lock=True)  # one close at a time; invoice numbers
    now = subscriptions.now()
    start, _ = subscriptions.period_containing(sub.current_period_start, sub.interval, now)
    previous = subscriptions.add_months(start, -(12 if sub.interval == Interval.YEAR else 1))
    late = timedelta(days=int(await settings.value_of(session, "usage.late_days")))
    if now < start + late or start <= sub.created_at:
        return None  # still open to late events, or the organization did not exist during it
    found = await session.execute(
        select(BillingPeriodClose.id).where(
            BillingPeriodClose.organization_id == org_id, BillingPeriodClose.period_start == previous
        )
    )
    if found.scalar_one_or_none() is not None:
        return None
    plan = (await entitlements.standing(session, org_id)).plan
    report = await usage_between(session, org_id, max(previous, sub.created_at), start, plan)
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
            session, sub, plan_id=plan.id, currency=report.currency, start=previous, end=start, lines=lines
        )
        invoice_id = invoice.id
    closed = BillingPeriodClose(
        id=new_id(), organization_id=org_id, subscription_id=sub.id, plan_id=plan.id, period_start=previous,
        period_end=start, invoice_id=invoice_id,
    )  # fmt: skip
    session.add(closed)
    await session.flush()
    fees = [
        OverageFee(
            id=new_id(), organization_id=org_id, close_id=closed.id, metric_code=m.code, period_start=previous,
            period_end=start, included=m.included, used=m.total, unit_size=m.unit_size,
            billable_units=m.overage_units, unit_price_minor=m.overage_price_minor, amount_minor=m.overage_minor,
            currency=report.currency, invoice_id=invoice_id,
        )
        for m in over
    ]  # fmt: skip
    session.add_all(fees)
    await session.flush()
    return closed


async def close_due(maker: async_sessionmaker) -> int:
    """Close every organization's last period that is due (the scheduler, hourly); how many were closed."""
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="usage: find the periods to close")
        orgs = list((await session.execute(select(Subscription.organization_id))).scalars())
    closed = 0
    for org_id in orgs:
        async with unit_of_work(maker) as session:
            await scope_session(session, org_id=org_id)
            closed += await close_last_period(session, org_id) is not None
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
