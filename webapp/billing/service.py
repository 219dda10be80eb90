"""The organization's side of billing: what its subscription gives and uses, and starting a checkout for another
plan (the plan changes when the provider's webhook says it is paid, never on the click)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from webapp.billing import entitlements, plans, sandbox, subscriptions
from webapp.billing.entitlements import Standing
from webapp.billing.enums import SERVING, Interval, PlanStatus, Provider
from webapp.billing.models import Checkout, Plan, Subscription
from webapp.billing.proration import Proration, period_price, prorate
from webapp.billing.providers import adapter_for
from webapp.core import audit
from webapp.core.errors import Conflict, ValidationError
from webapp.core.ids import new_id
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
    settings=None,
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
    if provider == Provider.SANDBOX:
        checkout = await sandbox.open_checkout(session, ctx, plan, interval, seats)
    else:
        checkout = await _provider_checkout(session, ctx, plan, interval, seats, adapter_for(provider, settings))
    await audit.record(
        session, ctx, "billing.checkout_start", entity_type="billing_checkout", entity_id=checkout.id,
        after={"plan": plan.key, "version": plan.version, "interval": interval.value, "seats": seats,
               "provider": provider},
    )  # fmt: skip
    return checkout


async def _provider_checkout(session, ctx, plan: Plan, interval: Interval, seats: int, adapter) -> Checkout:
    # the provider is asked first: a row for a session that was never made would be a lie; a session whose row
    # failed to save simply expires unused
    checkout = Checkout(
        id=new_id(), organization_id=ctx.org_id, plan_id=plan.id, interval=interval, seats=seats,
        provider=adapter.provider, created_by=ctx.user_id, expires_at=subscriptions.now() + sandbox.CHECKOUT_LIFETIME,
    )  # fmt: skip
    checkout.provider_checkout_id, checkout.checkout_url = await adapter.open_checkout(checkout, plan, ctx.org_slug)
    session.add(checkout)
    await session.flush()
    return checkout


def checkout_url(org_slug: str, checkout: Checkout) -> str:
    """Where the person pays: the provider's hosted page, or the sandbox's page here."""
    return checkout.checkout_url or f"/o/{org_slug}/billing/sandbox/{checkout.id}"


@dataclass(frozen=True)
class Change:
    """A plan, seat or interval change worked out before anyone confirms it."""

    subscription: Subscription
    plan: Plan
    seats: int
    interval: Interval
    proration: Proration
    period_start: datetime
    period_end: datetime
    old_price: int
    new_price: int


def _paid(sub: Subscription) -> None:
    if sub.provider is None:
        raise Conflict(
            "The free plan has nothing to change at a provider: start a checkout for a paid plan instead.",
            {"action": "POST /api/v1/billing/subscription"},
        )


async def plan_change(
    session: AsyncSession, org_id: uuid.UUID, *, plan_id: uuid.UUID | None, seats: int | None,
    interval: Interval | None, lock: bool = False,
) -> Change:  # fmt: skip
    """The change and its proration in minor units, nothing saved: what the person confirms."""
    sub = await subscriptions.get_subscription(session, org_id, lock=lock)
    _paid(sub)
    plan = sub.plan if plan_id is None or plan_id == sub.plan_id else await plans.get_plan(session, plan_id)
    if plan.id != sub.plan_id and plan.status != PlanStatus.CURRENT:
        raise ValidationError.field("plan_id", "That plan version is no longer offered; pick a current one.")
    if plan.is_default:
        raise ValidationError.field("plan_id", "To go back to the free plan, cancel: it ends with the period.")
    interval = interval or sub.interval
    needed = subscriptions.seats_needed(plan, await subscriptions.seat_use(session, org_id))
    seats = seats or max(sub.seats, needed)
    if seats < needed:
        raise ValidationError.field("seats", f"Everyone who holds or is promised a seat needs one: at least {needed}.")
    if plan.seat_limit is not None and seats > plan.seat_limit:
        raise ValidationError.field("seats", f"The {plan.name} plan has at most {plan.seat_limit} seats.")
    if plan.id == sub.plan_id and seats == sub.seats and interval == sub.interval:
        raise ValidationError.field("plan_id", "That is the subscription as it is: change the plan, seats or interval.")
    now = subscriptions.now()
    old_price, new_price = period_price(sub.plan, sub.interval, sub.seats), period_price(plan, interval, seats)
    start, end = subscriptions.period_containing(sub.current_period_start, sub.interval, now)
    if interval != sub.interval:  # a new interval starts a new period now: the whole new price, the old one's rest back
        moved = prorate(old_price, 0, start, end, now)
        proration = Proration(moved.credit, new_price, moved.remaining_seconds, moved.period_seconds)
        start, end = now.replace(microsecond=0), subscriptions.period_after(now.replace(microsecond=0), interval)
    else:
        proration = prorate(old_price, new_price, start, end, now)
    return Change(sub, plan, seats, interval, proration, start, end, old_price, new_price)


async def change_subscription(
    session: AsyncSession, ctx: RequestContext, *, plan_id: uuid.UUID | None, seats: int | None,
    interval: Interval | None, version: int, settings=None,
) -> tuple[Change, list[dict]]:  # fmt: skip
    """Ask the provider for the change (the subscription changes when its webhook confirms); a stale version is a
    409. Returns the change and the sandbox's events to deliver."""
    change = await plan_change(session, ctx.org_id, plan_id=plan_id, seats=seats, interval=interval, lock=True)
    _fresh(change.subscription, version)
    await audit.record(
        session, ctx, "billing.change_requested", entity_type="billing_subscription", entity_id=change.subscription.id,
        before={"plan_id": change.subscription.plan_id, "seats": change.subscription.seats,
                "interval": change.subscription.interval.value},
        after={"plan_id": change.plan.id, "seats": change.seats, "interval": change.interval.value,
               "amount_due": change.proration.amount_due, "credit_left": change.proration.credit_left},
    )  # fmt: skip
    if change.subscription.provider != Provider.SANDBOX:
        adapter = adapter_for(change.subscription.provider, settings)
        await adapter.change(change.subscription, change.plan, change.seats, change.interval)
        return change, []
    return change, sandbox.change_events(
        change.subscription, change.plan, change.seats, change.interval, change.proration,
        change.period_start, change.period_end,
    )  # fmt: skip


def _fresh(sub: Subscription, version: int | None) -> None:
    if version is not None and version != sub.version:
        raise Conflict(
            "The subscription changed since you read it.", {"current": {"version": sub.version, "seats": sub.seats}}
        )


async def set_cancel_at_period_end(
    session: AsyncSession, ctx: RequestContext, *, cancel: bool, version: int | None, settings=None
) -> list[dict]:
    """Cancel at the end of the period (the organization goes back to free then), or resume before it ends."""
    sub = await subscriptions.get_subscription(session, ctx.org_id, lock=True)
    _paid(sub)
    _fresh(sub, version)
    if sub.cancel_at_period_end == cancel:
        raise Conflict(
            "The subscription already ends with its period." if cancel else "The subscription is not ending."
        )
    await audit.record(
        session, ctx, "billing.cancel_requested" if cancel else "billing.resume_requested",
        entity_type="billing_subscription", entity_id=sub.id, after={"cancel_at_period_end": cancel},
    )  # fmt: skip
    if sub.provider != Provider.SANDBOX:
        await adapter_for(sub.provider, settings).set_cancel(sub, cancel)
        return []
    return sandbox.cancel_events(sub, sub.plan, cancel)


def payment_url(org_slug: str, payment) -> str:
    """Where a one-time payment is paid: the provider's hosted page, or the sandbox's page here."""
    return payment.checkout_url or f"/o/{org_slug}/billing/sandbox/payments/{payment.id}"


@dataclass(frozen=True)
class NextInvoice:
    """What the next period's invoice will say, as things stand: the amount and when."""

    amount_minor: int
    currency: str
    on: datetime


def next_invoice(sub: Subscription) -> NextInvoice | None:
    """The next period's invoice for a paid subscription that goes on (None: free, or ending with the period)."""
    if sub.provider is None or sub.cancel_at_period_end or sub.status not in SERVING:
        return None
    return NextInvoice(period_price(sub.plan, sub.interval, sub.seats), sub.plan.currency, sub.current_period_end)
