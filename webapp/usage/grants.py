"""Plan credits: every month of a subscription (anchored on its period start) grants the plan's monthly credits,
expiring at that month's end. Before a new month's grant, what is left of the last one expires — all of it but what
running work holds, which expires once released. Called when an organization starts, when its plan changes (an
upgrade tops the month up to the new plan's amount), and hourly by the scheduler for months that turned."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webapp.billing import entitlements, subscriptions
from webapp.billing.enums import Interval
from webapp.core.ids import new_id
from webapp.core.tenancy import enable_rls_bypass, scope_session
from webapp.core.transaction import unit_of_work
from webapp.organizations.models import Organization
from webapp.usage import credits
from webapp.usage.enums import EntryKind
from webapp.usage.models import CreditAccount, CreditEntry


def _key_prefix(month_start: datetime) -> str:
    return f"plan-credits:{month_start.isoformat()}:"


async def top_up(session: AsyncSession, org_id: uuid.UUID) -> CreditEntry | None:
    """Expire last month's leftovers and grant this month's plan credits (up to the plan's amount: a grant made
    under a smaller plan this month is topped up); the grant entry, or None when nothing was due."""
    # a plan changed earlier in this transaction is not on the loaded relationship yet: read it afresh
    await session.refresh(await subscriptions.get_subscription(session, org_id), ["plan"])
    state = await entitlements.standing(session, org_id)
    now = subscriptions.now()
    start, end = subscriptions.period_containing(state.subscription.current_period_start, Interval.MONTH, now)
    account = await credits.lock_account(session, org_id)  # one top-up of an organization at a time
    if account.expiring and account.expiring_until is not None and account.expiring_until != end:
        lapsing = min(account.expiring, account.balance - account.held)
        if lapsing > 0:
            await credits.record(
                session, org_id, EntryKind.EXPIRE, amount=-lapsing, key=f"expire:{new_id()}",
                reason=f"Plan credits of the month ending {account.expiring_until:%d %b %Y} expired",
            )  # fmt: skip
    wanted = 0 if state.read_only else state.plan.monthly_credits
    granted = (
        await session.execute(
            select(func.coalesce(func.sum(CreditEntry.amount), 0)).where(
                CreditEntry.organization_id == org_id,
                CreditEntry.kind == EntryKind.GRANT,
                CreditEntry.idempotency_key.startswith(_key_prefix(start)),
            )  # fmt: skip
        )
    ).scalar_one()
    if wanted <= granted:
        return None
    return await credits.record(
        session, org_id, EntryKind.GRANT, amount=wanted - granted, key=_key_prefix(start) + str(state.plan.id),
        reason=f"{state.plan.name} plan: {wanted:,} credits for {start:%d %b} – {end:%d %b %Y}", expires_at=end,
    )  # fmt: skip


async def renew_due(maker: async_sessionmaker) -> int:
    """Top up every organization whose month turned (or that never had plan credits); how many were granted."""
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="plan credits: find the months that turned")
        stmt = (
            select(Organization.id)
            .outerjoin(CreditAccount, CreditAccount.organization_id == Organization.id)
            .where(
                Organization.deleted_at.is_(None),
                or_(
                    CreditAccount.organization_id.is_(None),
                    CreditAccount.expiring_until.is_(None),
                    CreditAccount.expiring_until <= func.now(),
                ),
            )  # fmt: skip
        )
        due = list((await session.execute(stmt)).scalars())
    granted = 0
    for org_id in due:
        async with unit_of_work(maker) as session:
            await scope_session(session, org_id=org_id)
            granted += await top_up(session, org_id) is not None
    return granted
