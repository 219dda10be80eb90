"""One-time payments (simulation credits): started here, paid at the provider's page, marked by its webhook."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.billing import subscriptions
from webapp.billing.enums import ONE_TIME_PRICES, EventStatus, OneTimeProduct, PaymentStatus, Provider
from webapp.billing.models import Payment, PaymentEvent
from webapp.core import audit
from webapp.core.errors import Conflict, NotFound
from webapp.core.ids import new_id, parse_id
from webapp.core.tenancy import RequestContext

# what the provider may still say about a payment in each state (a late "failed" never undoes a success)
NEXT = {
    PaymentStatus.PENDING: {PaymentStatus.SUCCEEDED, PaymentStatus.FAILED},
    PaymentStatus.FAILED: {PaymentStatus.SUCCEEDED},
    PaymentStatus.SUCCEEDED: {PaymentStatus.REFUNDED},
    PaymentStatus.REFUNDED: set(),
}
STRIPE_OUTCOME = {
    "payment_intent.succeeded": PaymentStatus.SUCCEEDED,
    "payment_intent.payment_failed": PaymentStatus.FAILED,
    "charge.refunded": PaymentStatus.REFUNDED,
}


async def start(
    session: AsyncSession, ctx: RequestContext, product: OneTimeProduct, quantity: int, provider: str
) -> Payment:
    """A pending payment for `quantity` units of `product`, to be paid at the provider's page."""
    if provider != Provider.SANDBOX:
        raise Conflict(f"Payments through {provider} are not set up on this server yet; use the sandbox provider.")
    unit_price, unit = ONE_TIME_PRICES[product]
    payment = Payment(
        id=new_id(), organization_id=ctx.org_id, product=product, quantity=quantity,
        description=f"{quantity} × {unit}", unit_price_minor=unit_price, amount_minor=unit_price * quantity,
        provider=Provider.SANDBOX, provider_payment_id=f"pi_sandbox_{uuid.uuid4().hex[:24]}", created_by=ctx.user_id,
    )  # fmt: skip
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
    """Mark the payment a Stripe-dialect event reports on (None: the event is not about a payment)."""
    outcome = STRIPE_OUTCOME.get(event.type)
    if outcome is None or event.provider not in (Provider.STRIPE, Provider.SANDBOX):
        return None
    data = event.payload.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    reference = obj.get("payment_intent") if isinstance(obj, dict) and event.type == "charge.refunded" else None
    reference = reference or (obj.get("id") if isinstance(obj, dict) else None)
    if not isinstance(reference, str):
        return EventStatus.IGNORED
    allowed = [status for status, following in NEXT.items() if outcome in following]
    stmt = (
        update(Payment)
        .where(
            Payment.provider == event.provider,
            Payment.provider_payment_id == reference,
            Payment.status.in_(allowed),
        )
        .values(status=outcome, paid_at=subscriptions.now() if outcome == PaymentStatus.SUCCEEDED else Payment.paid_at)
        .returning(Payment.organization_id)
    )
    org_id = (await session.execute(stmt)).scalar_one_or_none()
    if org_id is None:
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        event.organization_id = parse_id(meta.get("organization_id")) if isinstance(meta, dict) else None
        return EventStatus.IGNORED  # unknown, or a state it has moved past
    event.organization_id = org_id
    return EventStatus.PROCESSED
