"""One-time payments (simulation credits): started here, paid at the provider's page, marked by its webhook."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.billing import subscriptions
from webapp.billing.enums import ONE_TIME_PRICES, EventStatus, OneTimeProduct, PaymentStatus, Provider
from webapp.billing.events import payment_news
from webapp.billing.models import Payment, PaymentEvent
from webapp.billing.providers import adapter_for
from webapp.core import audit
from webapp.core.errors import NotFound
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext
from webapp.usage import service as usage_service

# what the provider may still say about a payment in each state (a late "failed" never undoes a success)
NEXT = {
    PaymentStatus.PENDING: {PaymentStatus.SUCCEEDED, PaymentStatus.FAILED},
    PaymentStatus.FAILED: {PaymentStatus.SUCCEEDED},
    PaymentStatus.SUCCEEDED: {PaymentStatus.REFUNDED},
    PaymentStatus.REFUNDED: set(),
}


async def start(
    session: AsyncSession, ctx: RequestContext, product: OneTimeProduct, quantity: int, provider: str, settings=None
) -> Payment:
    """A pending payment for `quantity` units of `product`, to be paid at the provider's page."""
    unit_price, unit = ONE_TIME_PRICES[product]
    payment = Payment(
        id=new_id(), organization_id=ctx.org_id, product=product, quantity=quantity, currency="USD",
        description=f"{quantity} × {unit}", unit_price_minor=unit_price, amount_minor=unit_price * quantity,
        provider=Provider(provider), provider_payment_id=f"pi_sandbox_{uuid.uuid4().hex[:24]}", created_by=ctx.user_id,
    )  # fmt: skip
    if payment.provider != Provider.SANDBOX:  # the provider is asked first: no row for a page that was never made
        adapter = adapter_for(payment.provider, settings)
        payment.provider_payment_id, payment.checkout_url = await adapter.open_payment(payment, ctx.org_slug)
    session.add(payment)
    await session.flush()
    await audit.record(
        session, ctx, "billing.payment_start", entity_type="billing_payment", entity_id=payment.id,
        after={"product": product.value, "quantity": quantity, "amount_minor": payment.amount_minor},
    )  # fmt: skip
    return payment


async def list_payments(session: AsyncSession, org_id: uuid.UUID) -> list[Payment]:
    """The organization's one-time payments, newest first."""
    stmt = select(Payment).where(Payment.organization_id == org_id).order_by(Payment.created_at.desc()).limit(200)
    return list((await session.execute(stmt)).scalars())


async def get_payment(session: AsyncSession, org_id: uuid.UUID, payment_id: uuid.UUID) -> Payment:
    """One of the organization's payments; NotFound otherwise."""
    stmt = select(Payment).where(Payment.id == payment_id, Payment.organization_id == org_id)
    payment = (await session.execute(stmt)).scalar_one_or_none()
    if payment is None:
        raise NotFound("No such payment.")
    return payment


def sandbox_events(payment: Payment) -> list[dict]:
    """What the sandbox reports when the payment is taken."""
    obj = {"id": payment.provider_payment_id, "object": "payment_intent", "amount": payment.amount_minor,
           "currency": payment.currency.lower(), "status": "succeeded",
           "metadata": {"organization_id": str(payment.organization_id), "payment_id": str(payment.id)}}  # fmt: skip
    return [{"id": f"evt_sandbox_{uuid.uuid4().hex[:24]}", "object": "event", "type": "payment_intent.succeeded",
             "created": int(time.time()), "data": {"object": obj}}]  # fmt: skip


async def apply_event(session: AsyncSession, event: PaymentEvent) -> EventStatus | None:
    """Mark the one-time payment an event reports on; None when the event is about none of ours (it may then be
    about a subscription's checkout)."""
    news = payment_news(event.provider, event.payload)
    if news is None or (news.reference is None and news.payment_id is None):
        return None
    allowed = [status for status, following in NEXT.items() if news.outcome in following]
    # our id, from the metadata we sent, names one payment; else the provider's reference we stored at the start
    ours = Payment.id == news.payment_id if news.payment_id else Payment.provider_payment_id == news.reference
    stmt = (
        update(Payment)
        .where(Payment.provider == event.provider, ours, Payment.status.in_(allowed))
        .values(
            status=news.outcome,
            paid_at=subscriptions.now() if news.outcome == PaymentStatus.SUCCEEDED else Payment.paid_at,
        )
        .returning(Payment.organization_id, Payment.id, Payment.quantity)
    )
    moved = (await session.execute(stmt)).one_or_none()
    org_id = moved.organization_id if moved else None
    if org_id is None:
        found = await session.execute(select(Payment.organization_id).where(Payment.provider == event.provider, ours))
        org_id = found.scalar_one_or_none()
        if org_id is None:
            return None  # not a payment of ours
        event.organization_id = org_id
        return EventStatus.IGNORED  # a state it has moved past
    event.organization_id = org_id
    # the credits follow the money: added once it is taken, taken back (as far as unspent) when it is refunded
    if news.outcome == PaymentStatus.SUCCEEDED:
        await usage_service.credit_purchase(session, org_id, moved.id, moved.quantity)
    elif news.outcome == PaymentStatus.REFUNDED:
        await usage_service.take_back_purchase(session, org_id, moved.id, moved.quantity)
    return EventStatus.PROCESSED
