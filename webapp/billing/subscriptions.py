"""An organization's subscription: the free one it starts with, reading it (locked when a decision depends on it),
its billing periods, and the seat arithmetic every gate and the seat sync share."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.billing.enums import Interval, PlanStatus, SubscriptionStatus
from webapp.billing.models import Plan, Subscription
from webapp.core.errors import NotFound
from webapp.core.ids import new_id
from webapp.organizations.models import Invitation, Membership


def now() -> datetime:
    """The current time in UTC (one place, so periods and tests agree)."""
    return datetime.now(UTC)


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` moved by whole months, the day clamped to the target month's last day (Jan 31 + 1 = Feb 28/29)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    days = (datetime(year + month // 12, month % 12 + 1, 1) - datetime(year, month, 1)).days
    return moment.replace(year=year, month=month, day=min(moment.day, days))


def period_after(start: datetime, interval: Interval) -> datetime:
    """The end of a period that starts at `start`."""
    return add_months(start, 12 if interval == Interval.YEAR else 1)


def period_containing(start: datetime, interval: Interval, moment: datetime) -> tuple[datetime, datetime]:
    """The period of a subscription anchored at `start` that contains `moment` (periods repeat from the anchor)."""
    step = 12 if interval == Interval.YEAR else 1
    months = (moment.year - start.year) * 12 + moment.month - start.month
    count = max(0, months // step)
    begin = add_months(start, count * step)
    while begin > moment and count > 0:
        count -= 1
        begin = add_months(start, count * step)
    end = add_months(start, (count + 1) * step)
    while end <= moment:
        count += 1
        begin, end = end, add_months(start, (count + 1) * step)
    return begin, end


async def default_plan(session: AsyncSession) -> Plan:
    """The free plan every organization starts on."""
    stmt = select(Plan).where(Plan.is_default, Plan.status == PlanStatus.CURRENT)
    plan = (await session.execute(stmt)).scalar_one_or_none()
    if plan is None:
        raise RuntimeError("no default plan: the billing_plans seed (migration 0015) is missing")
    return plan


async def start_free(session: AsyncSession, org_id: uuid.UUID) -> Subscription:
    """A new organization's subscription: the default plan, its included seats, no provider."""
    plan = await default_plan(session)
    start = now().replace(microsecond=0)
    subscription = Subscription(
        id=new_id(),
        organization_id=org_id,
        plan_id=plan.id,
        status=SubscriptionStatus.ACTIVE,
        interval=Interval.MONTH,
        seats=plan.included_seats,
        current_period_start=start,
        current_period_end=period_after(start, Interval.MONTH),
    )
    session.add(subscription)
    await session.flush()
    await grant_plan_credits(session, org_id)
    return subscription


async def grant_plan_credits(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Give the organization this month's credits of the plan it now has (usage's grants, once per month and plan)."""
    from webapp.usage import grants  # usage builds on billing, not the other way round

    await grants.top_up(session, org_id)


async def get_subscription(session: AsyncSession, org_id: uuid.UUID, *, lock: bool = False) -> Subscription:
    """The organization's subscription with its plan; `lock` holds the row until commit, so decisions about seats
    or plan changes of one organization queue up instead of racing."""
    stmt = select(Subscription).where(Subscription.organization_id == org_id)
    if lock:
        stmt = stmt.with_for_update(of=Subscription)
    subscription = (await session.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()
    if subscription is None:
        raise NotFound("This organization has no subscription.")
    return subscription


@dataclass(frozen=True)
class SeatUse:
    """Who holds or has been promised a seat."""

    members: int
    pending_invitations: int

    @property
    def taken(self) -> int:
        """Seats members hold plus those pending invitations reserve."""
        return self.members + self.pending_invitations


async def seat_use(session: AsyncSession, org_id: uuid.UUID) -> SeatUse:
    """Live members and invitations still open (not accepted, revoked or expired), in one round trip."""
    members = (
        select(func.count())
        .select_from(Membership)
        .where(Membership.organization_id == org_id, Membership.deleted_at.is_(None))
        .scalar_subquery()
    )
    pending = (
        select(func.count())
        .select_from(Invitation)
        .where(
            Invitation.organization_id == org_id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > func.now(),
        )
        .scalar_subquery()
    )
    row = (await session.execute(select(members, pending))).one()
    return SeatUse(int(row[0]), int(row[1]))


def seats_needed(plan: Plan, use: SeatUse) -> int:
    """The seat count a subscription should have: everyone who holds or is promised one, never below what the plan
    includes (the number of members is the seat count)."""
    return max(plan.included_seats, use.taken)


async def comp_plan(session: AsyncSession, org_id: uuid.UUID, plan_key: str) -> Subscription:
    """Put the organization on a current plan without a provider (the demo organization, staff's courtesy
    accounts): nothing is charged, the plan's limits apply."""
    plan = (
        await session.execute(select(Plan).where(Plan.key == plan_key, Plan.status == PlanStatus.CURRENT))
    ).scalar_one()
    subscription = await get_subscription(session, org_id, lock=True)
    use = await seat_use(session, org_id)
    subscription.plan_id, subscription.status = plan.id, SubscriptionStatus.ACTIVE
    subscription.seats = max(plan.included_seats, use.taken)
    await session.flush()
    await grant_plan_credits(session, org_id)
    return subscription
