"""The organization's side of billing: what its subscription gives and uses, and starting a checkout for another
plan (the plan changes when the provider's webhook says it is paid, never on the click)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from webapp.billing import entitlements, plans, sandbox, subscriptions
from webapp.billing.entitlements import Standing
from webapp.billing.enums import Interval, PlanStatus, Provider
from webapp.billing.models import Checkout
from webapp.core import audit
from webapp.core.errors import Conflict, ValidationError
from webapp.core.tenancy import RequestContext


@dataclass(frozen=True)
class Usage:
    """One limited thing: used against allowed (None: no limit)."""

    limit: str
    label: str
    used: int
    allowed: int | None

    @property
    def percent(self) -> int:
        """Share of the limit used, 0-100 (0 when unlimited)."""
        if not self.allowed:
            return 0 if self.allowed is None else 100
        return min(100, round(100 * self.used / self.allowed))


async def usage(session: AsyncSession, standing: Standing) -> list[Usage]:
    """Seats, missions, runs this period and storage against the plan that applies."""
    org_id, plan, sub = standing.subscription.organization_id, standing.plan, standing.subscription
    seats = await subscriptions.seat_use(session, org_id)
    paid = sub.seats if plan.id == sub.plan_id else plan.included_seats
    return [
        Usage("seats", "Seats", seats.taken, paid),
        Usage("missions", "Missions", await entitlements.mission_count(session, org_id), plan.mission_limit),
        Usage(
            "simulation_runs", "Simulation runs this period", await entitlements.runs_this_period(session, sub),
            plan.monthly_run_limit,
        ),
        Usage(
            "storage_bytes", "File storage", await entitlements.stored_bytes(session, org_id), plan.storage_limit_bytes
        ),
    ]  # fmt: skip


async def start_checkout(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    plan_id: uuid.UUID,
    interval: Interval,
    seats: int | None,
    provider: str,
) -> Checkout:
    """A checkout for a current paid plan with enough seats for everyone who holds or is promised one."""
    plan = await plans.get_plan(session, plan_id)
    if plan.status != PlanStatus.CURRENT:
        raise ValidationError.field("plan_id", "That plan version is no longer offered; pick a current one.")
    if plan.is_default:
        raise ValidationError.field("plan_id", "The free plan needs no checkout: cancel the subscription instead.")
    current = await subscriptions.get_subscription(session, ctx.org_id, lock=True)
    if current.plan_id == plan.id and current.interval == interval and current.provider is not None:
        raise Conflict("The organization is on this plan already.")
    needed = subscriptions.seats_needed(plan, await subscriptions.seat_use(session, ctx.org_id))
    seats = seats or needed
    if seats < needed:
        raise ValidationError.field("seats", f"Everyone who holds or is promised a seat needs one: at least {needed}.")
    if plan.seat_limit is not None and seats > plan.seat_limit:
        raise ValidationError.field("seats", f"The {plan.name} plan has at most {plan.seat_limit} seats.")
    if provider != Provider.SANDBOX:
        raise Conflict(f"Checkout through {provider} is not set up on this server yet; use the sandbox provider.")
    checkout = await sandbox.open_checkout(session, ctx, plan, interval, seats)
    await audit.record(
        session, ctx, "billing.checkout_start", entity_type="billing_checkout", entity_id=checkout.id,
        after={"plan": plan.key, "version": plan.version, "interval": interval.value, "seats": seats,
               "provider": provider},
    )  # fmt: skip
    return checkout


def checkout_url(org_slug: str, checkout: Checkout) -> str:
    """Where the person pays: the sandbox's page (a real provider's hosted page once configured)."""
    return f"/o/{org_slug}/billing/sandbox/{checkout.id}"
