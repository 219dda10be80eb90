"""Applying stored provider events on the worker. Events are hints about a subscription's state: each carries the
provider's state as of some moment, and ours takes it only when it is newer than what we applied last — so duplicate
and out-of-order deliveries end in the state in-order single delivery gives. An event about no subscription we know,
or of a type we do not act on, is kept and marked ignored. A failure is recorded on the event and retried."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webapp.billing import invoices, notices, payments, subscriptions
from webapp.billing.enums import CheckoutStatus, EventStatus, Interval, Provider, SubscriptionStatus
from webapp.billing.events import (
    InvoiceNews,
    SubscriptionState,
    completed_checkout,
    invoice_news,
    subscription_state,
)
from webapp.billing.models import Checkout, PaymentEvent, Plan, Subscription
from webapp.core import audit
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import unit_of_work

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8  # the Standard Webhooks schedule's count; after it, staff re-process by hand
REASON = "billing: apply a provider's webhook event"
# on a tie of the provider's clock (whole seconds), the state further along wins
RANK = {
    SubscriptionStatus.INCOMPLETE: 0,
    SubscriptionStatus.TRIALING: 1,
    SubscriptionStatus.ACTIVE: 2,
    SubscriptionStatus.PAUSED: 2,
    SubscriptionStatus.PAST_DUE: 3,
    SubscriptionStatus.CANCELED: 4,
}


def _snapshot(sub: Subscription) -> dict:
    return {
        "plan_id": sub.plan_id,
        "status": sub.status.value,
        "seats": sub.seats,
        "provider": sub.provider.value if sub.provider else None,
        "provider_subscription_id": sub.provider_subscription_id,
        "cancel_at_period_end": sub.cancel_at_period_end,
        "current_period_end": sub.current_period_end,
    }


async def _lock_subscription(
    session: AsyncSession, provider: Provider, reference: str | None, org_id: uuid.UUID | None
) -> Subscription | None:
    """The subscription an event is about, locked: by the provider's reference, else by the organization our
    metadata names (an event can arrive before the one that tells us the reference)."""
    by_reference = (Subscription.provider == provider) & (Subscription.provider_subscription_id == reference)
    clause = or_(by_reference, Subscription.organization_id == org_id) if org_id else by_reference
    stmt = select(Subscription).where(clause).order_by(by_reference.desc()).limit(1).with_for_update(of=Subscription)
    return (await session.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()


def _is_stale(sub: Subscription, state: SubscriptionState) -> bool:
    if sub.provider_state_at is None or state.as_of is None:
        return False
    if state.as_of != sub.provider_state_at:
        return state.as_of < sub.provider_state_at
    return RANK[state.status] < RANK[sub.status] and not state.ended


async def _fall_back_to_free(session: AsyncSession, sub: Subscription, state: SubscriptionState) -> None:
    plan = await subscriptions.default_plan(session)
    use = await subscriptions.seat_use(session, sub.organization_id)
    start = subscriptions.now().replace(microsecond=0)
    sub.plan_id, sub.status, sub.interval = plan.id, SubscriptionStatus.ACTIVE, Interval.MONTH
    sub.seats, sub.provider_seats = max(plan.included_seats, use.members), None
    sub.provider = sub.provider_subscription_id = sub.provider_customer_id = None
    sub.cancel_at_period_end, sub.past_due_since, sub.trial_ends_at = False, None, None
    sub.canceled_at = state.as_of or start
    sub.current_period_start, sub.current_period_end = start, subscriptions.period_after(start, Interval.MONTH)


async def _take(session: AsyncSession, sub: Subscription, state: SubscriptionState) -> None:
    if state.plan_id and state.plan_id != sub.plan_id:
        if (await session.execute(select(Plan.id).where(Plan.id == state.plan_id))).scalar_one_or_none():
            sub.plan_id = state.plan_id
    if sub.status != SubscriptionStatus.PAST_DUE and state.status == SubscriptionStatus.PAST_DUE:
        sub.past_due_since = state.as_of or subscriptions.now()
    elif state.status != SubscriptionStatus.PAST_DUE:
        sub.past_due_since = None
    sub.status = state.status
    sub.provider, sub.provider_subscription_id = state.provider, state.subscription_id
    sub.provider_customer_id = state.customer_id or sub.provider_customer_id
    if state.seats:
        sub.seats = sub.provider_seats = state.seats
    if state.period_start and state.period_end and state.period_end > state.period_start:
        sub.current_period_start, sub.current_period_end = state.period_start, state.period_end
    if state.interval:
        sub.interval = state.interval
    sub.cancel_at_period_end = state.cancel_at_period_end


async def _apply_state(session: AsyncSession, event: PaymentEvent, state: SubscriptionState) -> EventStatus:
    sub = await _lock_subscription(session, state.provider, state.subscription_id, state.organization_id)
    if sub is None or (state.organization_id and sub.organization_id != state.organization_id and sub.provider):
        return EventStatus.IGNORED  # about nothing we know
    event.organization_id = sub.organization_id
    if _is_stale(sub, state):
        return EventStatus.IGNORED
    before = _snapshot(sub)
    was_past_due, paid_plan = sub.status == SubscriptionStatus.PAST_DUE, sub.plan.name if sub.provider else None
    if state.ended:
        if sub.provider is None and sub.provider_state_at and state.as_of and state.as_of <= sub.provider_state_at:
            return EventStatus.IGNORED  # already back on free
        await _fall_back_to_free(session, sub, state)
    else:
        await _take(session, sub, state)
    sub.provider_state_at = state.as_of or sub.provider_state_at
    await session.flush()
    await subscriptions.grant_plan_credits(session, sub.organization_id)  # a new plan or month: its credits
    if state.ended and paid_plan:
        await notices.subscription_ended(session, sub, paid_plan)
    elif sub.status == SubscriptionStatus.PAST_DUE and not was_past_due:
        await session.refresh(sub, ["plan"])
        await notices.payment_failed(session, sub, sub.plan.name)
    await audit.record(
        session, None, "billing.subscription_sync", entity_type="billing_subscription", entity_id=sub.id,
        before=before, after=_snapshot(sub), organization_id=sub.organization_id,
        metadata={"provider": event.provider.value, "event_id": event.event_id, "type": event.type},
    )  # fmt: skip
    return EventStatus.PROCESSED


async def _complete_checkout(session: AsyncSession, event: PaymentEvent, reference: str) -> EventStatus:
    stmt = (
        update(Checkout)
        .where(
            Checkout.provider == event.provider,
            Checkout.provider_checkout_id == reference,
            Checkout.status == CheckoutStatus.OPEN,
        )
        .values(status=CheckoutStatus.COMPLETED, completed_at=subscriptions.now())
        .returning(Checkout.organization_id)
    )
    org_id = (await session.execute(stmt)).scalar_one_or_none()
    if org_id is None:
        return EventStatus.IGNORED
    event.organization_id = org_id
    return EventStatus.PROCESSED


async def _record_invoice(session: AsyncSession, event: PaymentEvent, news: InvoiceNews) -> EventStatus:
    sub = await _lock_subscription(session, event.provider, news.subscription_id, news.organization_id)
    if sub is None:
        return EventStatus.IGNORED
    event.organization_id = sub.organization_id
    await invoices.record(session, sub, news.invoice)
    return EventStatus.PROCESSED


async def apply(session: AsyncSession, event: PaymentEvent) -> EventStatus:
    """Apply one event; its outcome."""
    state = subscription_state(event.provider, event.payload, event.occurred_at)
    if state is not None:
        return await _apply_state(session, event, state)
    news = invoice_news(event.provider, event.payload)
    if news is not None:
        return await _record_invoice(session, event, news)
    paid = await payments.apply_event(session, event)
    if paid is not None:
        return paid
    checkout = completed_checkout(event.provider, event.payload)
    if checkout is not None:
        return await _complete_checkout(session, event, checkout)
    return EventStatus.IGNORED


async def process_event(maker: async_sessionmaker, event_id: uuid.UUID, *, force: bool = False) -> EventStatus | None:
    """Apply a stored event once (a processed or ignored one is left alone unless `force`); a failure is kept on the
    event for the retry sweep. Returns the outcome."""
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason=REASON)
        stmt = select(PaymentEvent).where(PaymentEvent.id == event_id).with_for_update()
        event = (await session.execute(stmt)).scalar_one_or_none()
        if event is None or (not force and event.status in (EventStatus.PROCESSED, EventStatus.IGNORED)):
            return None
        event.attempts += 1
        try:
            async with session.begin_nested():
                outcome = await apply(session, event)
        except Exception as exc:  # kept on the event; the sweep retries it
            log.exception("billing event %s failed", event.id)
            event.status, event.last_error = EventStatus.FAILED, f"{type(exc).__name__}: {exc}"[:2000]
            return EventStatus.FAILED
        event.status, event.last_error, event.processed_at = outcome, None, subscriptions.now()
        return outcome


async def due_for_retry(maker: async_sessionmaker) -> list[uuid.UUID]:
    """Events still waiting (received but never picked up, or failed) with attempts left, oldest first."""
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason=REASON)
        stmt = (
            select(PaymentEvent.id)
            .where(
                PaymentEvent.status.in_((EventStatus.RECEIVED, EventStatus.FAILED)),
                PaymentEvent.attempts < MAX_ATTEMPTS,
                PaymentEvent.received_at < subscriptions.now() - timedelta(seconds=30),
            )
            .order_by(PaymentEvent.received_at)
            .limit(500)
        )
        return list((await session.execute(stmt)).scalars())
