"""The built-in sandbox provider (the `make dev` default). Its checkout page completes payment locally; what it does
then reaches the app the way a real provider's news does: Stripe-shaped events, signed with Stripe's scheme by
stripe's own signer, POSTed by a worker job to /api/v1/webhooks/sandbox — the same intake and processing path."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.billing import subscriptions
from webapp.billing.enums import CheckoutStatus, Interval, Provider
from webapp.billing.models import Checkout, Plan, Subscription
from webapp.billing.proration import Proration
from webapp.billing.webhooks import stripe_header
from webapp.core import audit
from webapp.core.errors import Conflict, NotFound
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext

log = logging.getLogger(__name__)
CHECKOUT_LIFETIME = timedelta(hours=1)
WEBHOOK_PATH = "/api/v1/webhooks/sandbox"


def _ref(prefix: str) -> str:
    return f"{prefix}_sandbox_{secrets.token_hex(12)}"


def _stable_ref(prefix: str, *facts) -> str:
    """The same reference for the same request: asked twice for one change, a provider bills it once."""
    digest = hashlib.sha256("|".join(str(f) for f in facts).encode()).hexdigest()[:24]
    return f"{prefix}_sandbox_{digest}"


async def open_checkout(
    session: AsyncSession, ctx: RequestContext, plan: Plan, interval: Interval, seats: int
) -> Checkout:
    """A checkout for the plan at the sandbox; its page is /o/<org>/billing/sandbox/<id>."""
    checkout = Checkout(
        id=new_id(),
        organization_id=ctx.org_id,
        plan_id=plan.id,
        interval=interval,
        seats=seats,
        provider=Provider.SANDBOX,
        provider_checkout_id=_ref("cs"),
        created_by=ctx.user_id,
        expires_at=subscriptions.now() + CHECKOUT_LIFETIME,
    )
    session.add(checkout)
    await session.flush()
    return checkout


async def get_open_checkout(session: AsyncSession, org_id: uuid.UUID, checkout_id: uuid.UUID) -> Checkout:
    """An open, unexpired checkout of the organization; NotFound otherwise."""
    stmt = select(Checkout).where(
        Checkout.id == checkout_id, Checkout.organization_id == org_id, Checkout.provider == Provider.SANDBOX
    )
    checkout = (await session.execute(stmt)).scalar_one_or_none()
    if checkout is None:
        raise NotFound("No such checkout.")
    if checkout.status != CheckoutStatus.OPEN or checkout.expires_at <= subscriptions.now():
        raise Conflict("This checkout is closed. Start again from the billing page.")
    return checkout


async def waiting_checkout(session: AsyncSession, org_id: uuid.UUID, checkout_id: uuid.UUID | None) -> Checkout | None:
    """A checkout paid at the sandbox whose confirmation has not been applied yet (the page waits for it)."""
    if checkout_id is None:
        return None
    stmt = select(Checkout).where(
        Checkout.id == checkout_id, Checkout.organization_id == org_id, Checkout.status == CheckoutStatus.OPEN
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def _event(kind: str, obj: dict, created: int) -> dict:
    return {"id": _ref("evt"), "object": "event", "type": kind, "created": created, "livemode": False,
            "data": {"object": obj}}  # fmt: skip


async def pay(session: AsyncSession, ctx: RequestContext, checkout: Checkout, plan: Plan) -> list[dict]:
    """Take the (pretend) payment: the events a provider would send next, in the order it would send them."""
    now = int(time.time())
    start = subscriptions.now().replace(microsecond=0)
    end = subscriptions.period_after(start, checkout.interval)
    metadata = {"organization_id": str(checkout.organization_id), "plan_id": str(plan.id),
                "interval": checkout.interval.value, "checkout_id": str(checkout.id)}  # fmt: skip
    customer, subscription_id = _ref("cus"), _ref("sub")
    item = {"id": _ref("si"), "quantity": checkout.seats, "current_period_start": int(start.timestamp()),
            "current_period_end": int(end.timestamp()),
            "price": {"id": f"price_sandbox_{plan.key}_{plan.version}_{checkout.interval.value}",
                      "recurring": {"interval": checkout.interval.value}}}  # fmt: skip
    subscription = {"id": subscription_id, "object": "subscription", "customer": customer, "status": "active",
                    "cancel_at_period_end": False, "items": {"data": [item]}, "metadata": metadata}  # fmt: skip
    session_obj = {"id": checkout.provider_checkout_id, "object": "checkout.session", "mode": "subscription",
                   "customer": customer, "subscription": subscription_id, "payment_status": "paid",
                   "client_reference_id": str(checkout.organization_id), "metadata": metadata}  # fmt: skip
    await audit.record(
        session, ctx, "billing.sandbox_payment", entity_type="billing_checkout", entity_id=checkout.id,
        after={"plan": plan.key, "seats": checkout.seats, "interval": checkout.interval.value},
    )  # fmt: skip
    invoice = {"id": _ref("in"), "object": "invoice", "status": "paid", "currency": plan.currency.lower(),
               "customer": customer, "subscription": subscription_id, "metadata": metadata,
               "period_start": int(start.timestamp()), "period_end": int(end.timestamp()),
               "status_transitions": {"paid_at": now}, "lines": {"data": invoice_lines(plan, checkout)}}  # fmt: skip
    return [
        _event("checkout.session.completed", session_obj, now),
        _event("customer.subscription.created", subscription, now),
        _event("invoice.paid", invoice, now),
    ]


def _state_time(sub: Subscription) -> int:
    # the sandbox's clock never goes back past a state it already reported (ties would be settled by rank)
    last = int(sub.provider_state_at.timestamp()) + 1 if sub.provider_state_at else 0
    return max(int(time.time()), last)


def _subscription_object(sub: Subscription, plan: Plan, *, seats: int, interval: Interval, start, end,
                         cancel_at_period_end: bool) -> dict:  # fmt: skip
    metadata = {"organization_id": str(sub.organization_id), "plan_id": str(plan.id), "interval": interval.value}
    item = {"id": _ref("si"), "quantity": seats, "current_period_start": int(start.timestamp()),
            "current_period_end": int(end.timestamp()),
            "price": {"id": f"price_sandbox_{plan.key}_{plan.version}_{interval.value}",
                      "recurring": {"interval": interval.value}}}  # fmt: skip
    return {"id": sub.provider_subscription_id, "object": "subscription", "customer": sub.provider_customer_id,
            "status": sub.status.value, "cancel_at_period_end": cancel_at_period_end, "items": {"data": [item]},
            "metadata": metadata}  # fmt: skip


def change_events(
    sub: Subscription, plan: Plan, seats: int, interval: Interval, proration: Proration, start, end
) -> list[dict]:
    """What the sandbox reports after a plan, seat or interval change: the updated subscription and, when money
    moves, an invoice with the proration's lines."""
    created = _state_time(sub)
    obj = _subscription_object(sub, plan, seats=seats, interval=interval, start=start, end=end,
                               cancel_at_period_end=sub.cancel_at_period_end)  # fmt: skip
    events = [_event("customer.subscription.updated", obj, created)]
    lines = []
    if proration.charge:
        lines.append({"amount": proration.charge, "quantity": seats, "proration": True,
                      "description": f"Remaining time on {plan.name} ({seats} seats)"})  # fmt: skip
    if proration.credit:
        lines.append({"amount": -proration.credit, "quantity": sub.seats, "proration": True,
                      "description": "Unused time on the previous plan"})  # fmt: skip
    if lines:
        reference = _stable_ref("in", sub.provider_subscription_id, sub.version, plan.id, seats, interval.value)
        invoice = {"id": reference, "object": "invoice", "status": "paid", "currency": plan.currency.lower(),
                   "customer": sub.provider_customer_id, "subscription": sub.provider_subscription_id,
                   "metadata": obj["metadata"], "period_start": int(subscriptions.now().timestamp()),
                   "period_end": int(end.timestamp()), "status_transitions": {"paid_at": created},
                   "lines": {"data": lines}}  # fmt: skip
        events.append(_event("invoice.paid", invoice, created))
    return events


def seat_events(sub: Subscription, seats: int) -> list[dict]:
    """What the sandbox reports after its quantity was set to `seats` (seat sync)."""
    obj = _subscription_object(sub, sub.plan, seats=seats, interval=sub.interval, start=sub.current_period_start,
                               end=sub.current_period_end, cancel_at_period_end=sub.cancel_at_period_end)  # fmt: skip
    return [_event("customer.subscription.updated", obj, _state_time(sub))]


def cancel_events(sub: Subscription, plan: Plan, cancel_at_period_end: bool) -> list[dict]:
    """What the sandbox reports when a subscription is set to end with its period, or resumed."""
    obj = _subscription_object(sub, plan, seats=sub.seats, interval=sub.interval, start=sub.current_period_start,
                               end=sub.current_period_end, cancel_at_period_end=cancel_at_period_end)  # fmt: skip
    return [_event("customer.subscription.updated", obj, _state_time(sub))]


def invoice_lines(plan: Plan, checkout: Checkout) -> list[dict]:
    """The first invoice's lines: the plan for the period, and each paid seat beyond the included ones."""
    yearly = checkout.interval == Interval.YEAR
    lines = [{"amount": plan.yearly_price_minor if yearly else plan.monthly_price_minor, "quantity": 1,
              "description": f"{plan.name} plan, {'yearly' if yearly else 'monthly'}", "proration": False}]  # fmt: skip
    extra = max(0, checkout.seats - plan.included_seats)
    if extra:
        each = plan.seat_price_minor * (12 if yearly else 1)
        lines.append({"amount": extra * each, "quantity": extra, "proration": False,
                      "description": f"{extra} extra seat{'s' if extra > 1 else ''}"})  # fmt: skip
    return lines


async def deliver(base_url: str, secret: str, event: dict, *, attempts: int = 5) -> int:
    """POST one signed event to the app's sandbox webhook, retrying (1, 2, 4, 8 s) until it is taken; the status."""
    body = json.dumps(event, separators=(",", ":"))
    status = 0
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
        for attempt in range(attempts):
            headers = {"Content-Type": "application/json", "Stripe-Signature": stripe_header(body, secret)}
            try:
                status = (await client.post(WEBHOOK_PATH, content=body, headers=headers)).status_code
            except httpx.HTTPError:
                log.warning("sandbox webhook delivery failed", exc_info=True)
                status = 0
            if 200 <= status < 300:
                return status
            await _sleep(2**attempt)
    return status


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def cycle(maker) -> list[dict]:
    """The sandbox's own clock: each of its subscriptions whose period has ended either ends (it was set to end
    with the period) or renews (a new period and its invoice). Returns the events to deliver."""
    from webapp.core.tenancy import enable_rls_bypass
    from webapp.core.transaction import unit_of_work

    events: list[dict] = []
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="billing: the sandbox provider's period ends")
        stmt = select(Subscription).where(
            Subscription.provider == Provider.SANDBOX, Subscription.current_period_end <= subscriptions.now()
        )
        for sub in (await session.execute(stmt.limit(500))).scalars():
            created = _state_time(sub)
            if sub.cancel_at_period_end:
                obj = _subscription_object(sub, sub.plan, seats=sub.seats, interval=sub.interval,
                                           start=sub.current_period_start, end=sub.current_period_end,
                                           cancel_at_period_end=True)  # fmt: skip
                obj["status"] = "canceled"
                events.append(_event("customer.subscription.deleted", obj, created))
                continue
            start = sub.current_period_end
            end = subscriptions.period_after(start, sub.interval)
            obj = _subscription_object(sub, sub.plan, seats=sub.seats, interval=sub.interval, start=start, end=end,
                                       cancel_at_period_end=False)  # fmt: skip
            events.append(_event("customer.subscription.updated", obj, created))
            renewal = Checkout(plan_id=sub.plan_id, interval=sub.interval, seats=sub.seats)  # only to price the lines
            events.append(
                _event("invoice.paid", {
                    "id": _ref("in"), "object": "invoice", "status": "paid", "currency": sub.plan.currency.lower(),
                    "customer": sub.provider_customer_id, "subscription": sub.provider_subscription_id,
                    "metadata": obj["metadata"], "period_start": int(start.timestamp()),
                    "period_end": int(end.timestamp()), "status_transitions": {"paid_at": created},
                    "lines": {"data": invoice_lines(sub.plan, renewal)},
                }, created)
            )  # fmt: skip
    return events
