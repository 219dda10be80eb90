"""Seat sync: the number of members (and open invitations, which hold seats) is the subscription's seat count.
After someone joins or leaves, or an invitation is revoked, a job sets our row and the provider's quantity to it
(seats are released freely; more are bought only when the organization allows automatic seat increases);
a scheduled sweep finds drift between members, our row and the provider and repairs it the same way. The quantity
sent is absolute, so repeating the job (a retry, the sweep meeting a job in flight) changes nothing more."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from webapp.billing import sandbox, subscriptions
from webapp.billing.enums import Provider
from webapp.billing.models import Plan, Subscription
from webapp.billing.providers import adapter_for
from webapp.core import audit
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import unit_of_work
from webapp.organizations.models import Invitation, Membership
from webapp.settings import queries as settings_queries
from webapp.settings.columns import effective

REASON = "billing: seat sync"


@dataclass(frozen=True)
class SeatSync:
    """What one sync did: the seats wanted, and the events the sandbox provider reports (to deliver)."""

    wanted: int
    changed: bool
    events: tuple[dict, ...] = ()


async def sync(maker: async_sessionmaker, org_id: uuid.UUID, settings=None) -> SeatSync:
    """Bring the organization's paid seats (our row and the provider's quantity) to what its people need."""
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason=REASON)
        sub = await subscriptions.get_subscription(session, org_id, lock=True)
        plan = sub.plan
        wanted = subscriptions.seats_needed(plan, await subscriptions.seat_use(session, org_id))
        if plan.seat_limit is not None:
            wanted = min(wanted, plan.seat_limit)
        if wanted > sub.seats and not await settings_queries.value_of(session, "billing.auto_seats", org_id=org_id):
            wanted = sub.seats  # more seats cost more: only the organization's own setting buys them unasked
        if sub.provider is None:
            if plan.is_default or sub.seats == wanted:  # the free plan's seats are what it includes
                return SeatSync(wanted, changed=False)
            before, sub.seats = sub.seats, wanted  # a comped plan: our row is all there is
            await _audit(session, sub, before, wanted)
            return SeatSync(wanted, changed=True)
        if sub.seats == wanted and sub.provider_seats == wanted:
            return SeatSync(wanted, changed=False)
        before, sub.seats = sub.seats, wanted
        await _audit(session, sub, before, wanted)
        if sub.provider != Provider.SANDBOX:
            await adapter_for(sub.provider, settings).set_seats(sub, wanted)
            return SeatSync(wanted, changed=True)
        return SeatSync(wanted, changed=True, events=tuple(sandbox.seat_events(sub, wanted)))


async def _audit(session, sub: Subscription, before: int, after: int) -> None:
    await audit.record(
        session, None, "billing.seat_sync", entity_type="billing_subscription", entity_id=sub.id,
        before={"seats": before, "provider_seats": sub.provider_seats}, after={"seats": after},
        organization_id=sub.organization_id,
    )  # fmt: skip


async def drifted(maker: async_sessionmaker) -> list[uuid.UUID]:
    """Organizations on a paid plan whose seats can be released, must grow (when they allow automatic seats), or
    differ from the provider's quantity."""
    members = (
        select(func.count())
        .where(Membership.organization_id == Subscription.organization_id, Membership.deleted_at.is_(None))
        .scalar_subquery()
    )
    pending = (
        select(func.count())
        .where(
            Invitation.organization_id == Subscription.organization_id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > func.now(),
        )
        .scalar_subquery()
    )
    wanted = func.greatest(Plan.included_seats, members + pending)
    wanted = func.least(wanted, func.coalesce(Plan.seat_limit, wanted))
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason=REASON)
        stmt = (
            select(Subscription.organization_id)
            .join(Plan, Plan.id == Subscription.plan_id)
            .where(
                ~Plan.is_default,
                or_(
                    Subscription.seats > wanted,
                    and_(
                        Subscription.seats < wanted,
                        effective("billing.auto_seats", org_id=Subscription.organization_id),
                    ),
                    (Subscription.provider.is_not(None))
                    & (Subscription.provider_seats.is_distinct_from(Subscription.seats)),
                ),
            )
            .limit(1000)
        )
        return list((await session.execute(stmt)).scalars())
