"""Entitlements: the one check every gated action calls before it changes anything. It answers what the plan allows,
how much is used and, when the action would go past it, raises PaymentRequired (402 in JSON, an inline message with
an upgrade link in pages) — never a half-done action.

What the plan gives depends on the subscription's state: trialing, active, and past_due within the grace period get
the plan's limits; past_due beyond it makes the organization read-only (every gate refuses); incomplete, paused or
canceled subscriptions get the default (free) plan's limits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.billing import subscriptions
from webapp.billing.enums import SERVING, SubscriptionStatus
from webapp.billing.models import Plan, Subscription
from webapp.core.errors import PaymentRequired
from webapp.settings import queries as settings


class Gate(StrEnum):
    """The actions a plan limits."""

    INVITE = "invite"  # a new invitation: members + open invitations against the seats
    JOIN = "join"  # someone becoming a member: members against the seats (bought one more if allowed)
    MISSION = "mission"
    RUN = "run"  # runs started in the current period
    STORAGE = "storage"  # bytes stored


LABELS = {
    Gate.INVITE: "seats",
    Gate.JOIN: "seats",
    Gate.MISSION: "missions",
    Gate.RUN: "simulation runs this period",
    Gate.STORAGE: "file storage",
}


@dataclass(frozen=True)
class Standing:
    """What the organization's subscription gives it right now."""

    subscription: Subscription
    plan: Plan  # the plan whose limits apply (the default plan when the subscription does not serve)
    read_only: bool
    grace_ends: object = None  # datetime when past_due, else None


async def standing(session: AsyncSession, org_id: uuid.UUID, *, lock: bool = False) -> Standing:
    """The subscription and the limits that apply to it now."""
    subscription = await subscriptions.get_subscription(session, org_id, lock=lock)
    grace_ends = None
    if subscription.status == SubscriptionStatus.PAST_DUE:
        days = int(await settings.value_of(session, "billing.grace_days"))
        grace_ends = subscription.past_due_since + timedelta(days=days)
        if subscriptions.now() >= grace_ends:
            return Standing(subscription, subscription.plan, read_only=True, grace_ends=grace_ends)
    if subscription.status in SERVING:
        return Standing(subscription, subscription.plan, read_only=False, grace_ends=grace_ends)
    return Standing(subscription, await subscriptions.default_plan(session), read_only=False)


def upgrade_url(org_slug: str | None) -> str:
    """Where to change the plan (the organization's billing page)."""
    return f"/o/{org_slug}/billing" if org_slug else "/orgs"


def _refuse(gate: Gate, org_slug: str | None, *, used: int, allowed: int, message: str) -> PaymentRequired:
    return PaymentRequired(
        message,
        {
            "limit": LABELS[gate],
            "gate": str(gate),
            "used": used,
            "allowed": allowed,
            "upgrade_url": upgrade_url(org_slug),
        },
    )


async def runs_this_period(session: AsyncSession, subscription: Subscription) -> int:
    """Simulation runs started in the subscription's current period (deleted ones too: they ran)."""
    from webapp.simulations.models import SimulationRun

    start, _ = subscriptions.period_containing(
        subscription.current_period_start, subscription.interval, subscriptions.now()
    )
    stmt = select(func.count()).where(
        SimulationRun.organization_id == subscription.organization_id, SimulationRun.created_at >= start
    )
    return int((await session.execute(stmt)).scalar_one())


async def mission_count(session: AsyncSession, org_id: uuid.UUID) -> int:
    """Missions that are not deleted."""
    from webapp.missions.models import Mission

    stmt = select(func.count()).where(Mission.organization_id == org_id, Mission.deleted_at.is_(None))
    return int((await session.execute(stmt)).scalar_one())


async def stored_bytes(session: AsyncSession, org_id: uuid.UUID) -> int:
    """Bytes of files the organization stores."""
    from webapp.collaboration.attachments import storage_used

    return await storage_used(session, org_id)


async def require(
    session: AsyncSession, org_id: uuid.UUID, gate: Gate, *, org_slug: str | None = None, adding: int = 1
) -> Standing:
    """Raise PaymentRequired unless the plan allows `adding` more of what `gate` counts. JOIN locks the subscription
    (concurrent joins queue up) and, when every paid seat is taken and the organization allows it, buys one more
    seat up to the plan's limit (the seat sync tells the provider after commit)."""
    state = await standing(session, org_id, lock=gate == Gate.JOIN)
    if state.read_only:
        raise PaymentRequired(
            "A payment is overdue and the grace period is over: the organization is read-only until it is paid.",
            {"limit": "payment", "gate": str(gate), "upgrade_url": upgrade_url(org_slug)},
        )
    plan, subscription = state.plan, state.subscription
    if gate in (Gate.INVITE, Gate.JOIN):
        use = await subscriptions.seat_use(session, org_id)
        held = use.taken if gate == Gate.INVITE else use.members
        paid = subscription.seats if plan.id == subscription.plan_id else plan.included_seats
        if held + adding <= paid:
            return state
        ceiling = plan.seat_limit
        may_grow = subscription.provider is not None and plan.id == subscription.plan_id
        if may_grow and await settings.value_of(session, "billing.auto_seats", org_id=org_id):
            if ceiling is None or held + adding <= ceiling:
                if gate == Gate.JOIN:
                    subscription.seats = held + adding
                    await session.flush()
                return state
            paid = ceiling
        raise _refuse(
            gate, org_slug, used=held, allowed=paid,
            message=f"All {paid} seats of the {plan.name} plan are taken"
            + (" (open invitations hold seats too)" if gate == Gate.INVITE and use.pending_invitations else "")
            + ". Add seats or upgrade the plan to invite more people.",
        )  # fmt: skip
    if gate == Gate.MISSION:
        limit, used = plan.mission_limit, await mission_count(session, org_id) if plan.mission_limit is not None else 0
        noun = "missions"
    elif gate == Gate.RUN:
        limit = plan.monthly_run_limit
        used = await runs_this_period(session, subscription) if limit is not None else 0
        noun = "simulation runs this billing period"
    else:
        limit = plan.storage_limit_bytes
        used = await stored_bytes(session, org_id) if limit is not None else 0
        noun = "bytes of file storage"
    if limit is None or used + adding <= limit:
        return state
    shown = f"{limit / 1024**3:g} GB of file storage" if gate == Gate.STORAGE else f"{limit} {noun}"
    raise _refuse(
        gate, org_slug, used=used, allowed=limit,
        message=f"The {plan.name} plan includes {shown}, and this would go past it. Upgrade the plan to go on.",
    )  # fmt: skip
