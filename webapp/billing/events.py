"""What providers' events say about a subscription, in one shape. Each provider names things its own way; these
readers turn a verified payload into a SubscriptionState (or None: the event is not about a subscription's state,
and is kept and ignored). The sandbox speaks Stripe's dialect."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from webapp.billing.enums import Interval, InvoiceStatus, LineKind, PaymentStatus, Provider, SubscriptionStatus
from webapp.billing.invoices import Line, ProviderInvoice
from webapp.billing.webhooks import moment
from webapp.core.ids import parse_id

S = SubscriptionStatus
STRIPE_STATUS = {
    "trialing": S.TRIALING, "active": S.ACTIVE, "past_due": S.PAST_DUE, "unpaid": S.PAST_DUE, "paused": S.PAUSED,
    "canceled": S.CANCELED, "incomplete": S.INCOMPLETE, "incomplete_expired": S.CANCELED,
}  # fmt: skip
POLAR_STATUS = STRIPE_STATUS  # Polar kept Stripe's names
DODO_STATUS = {
    "pending": S.INCOMPLETE, "active": S.ACTIVE, "on_hold": S.PAST_DUE, "paused": S.PAUSED, "cancelled": S.CANCELED,
    "failed": S.INCOMPLETE, "expired": S.CANCELED,
}  # fmt: skip
STRIPE_TYPES = frozenset(
    {
        "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
        "customer.subscription.paused", "customer.subscription.resumed",
    }
)  # fmt: skip
POLAR_TYPES = frozenset(
    {
        "subscription.created", "subscription.active", "subscription.updated", "subscription.canceled",
        "subscription.uncanceled", "subscription.revoked", "subscription.past_due", "subscription.paused",
        "subscription.resumed",
    }
)  # fmt: skip
DODO_TYPES = frozenset(
    {
        "subscription.active", "subscription.updated", "subscription.on_hold", "subscription.paused",
        "subscription.renewed", "subscription.plan_changed", "subscription.cancelled", "subscription.failed",
        "subscription.expired",
    }
)  # fmt: skip


@dataclass(frozen=True)
class SubscriptionState:
    """A provider's subscription as of `as_of`: enough to set ours from it, whatever arrived before."""

    provider: Provider
    subscription_id: str
    customer_id: str | None
    status: SubscriptionStatus
    seats: int | None
    period_start: datetime | None
    period_end: datetime | None
    cancel_at_period_end: bool
    ended: bool  # the provider has ended it (deleted / revoked / expired): the organization goes back to free
    organization_id: uuid.UUID | None  # from the metadata we put on the checkout
    plan_id: uuid.UUID | None
    interval: Interval | None
    as_of: datetime | None


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 1_000_000 else None


def _whole(value) -> int | None:
    if isinstance(value, str) and value.isdigit() and len(value) < 8:
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= 255 else None


def _meta(obj: dict) -> dict:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _interval(value) -> Interval | None:
    return {"month": Interval.MONTH, "year": Interval.YEAR}.get(value) if isinstance(value, str) else None


def _stripe(provider: Provider, payload: dict, occurred: datetime | None) -> SubscriptionState | None:
    if payload.get("type") not in STRIPE_TYPES:
        return None
    obj = (payload.get("data") or {}).get("object") if isinstance(payload.get("data"), dict) else None
    if not isinstance(obj, dict) or not _text(obj.get("id")):
        return None
    items = ((obj.get("items") or {}).get("data") or []) if isinstance(obj.get("items"), dict) else []
    item = items[0] if items and isinstance(items[0], dict) else {}
    meta = _meta(obj)
    status = STRIPE_STATUS.get(obj.get("status"))
    if status is None:  # an object without a state we know says nothing about the subscription's
        return None
    price = item.get("price") if isinstance(item.get("price"), dict) else {}
    recurring = price.get("recurring") if isinstance(price.get("recurring"), dict) else {}
    return SubscriptionState(
        provider=provider,
        subscription_id=obj["id"],
        customer_id=_text(obj.get("customer")),
        status=status,
        # our metadata names the seats (Stripe's items: the plan once, extra seats apart); else the one item's quantity
        seats=_int(_whole(meta.get("seats"))) or _int(item.get("quantity")) or _int(obj.get("quantity")),
        # Stripe moved the period onto the items (2025); older objects carry it on the subscription
        period_start=moment(item.get("current_period_start") or obj.get("current_period_start")),
        period_end=moment(item.get("current_period_end") or obj.get("current_period_end")),
        cancel_at_period_end=obj.get("cancel_at_period_end") is True,
        ended=payload["type"] == "customer.subscription.deleted" or status == S.CANCELED,
        organization_id=parse_id(meta.get("organization_id")),
        plan_id=parse_id(meta.get("plan_id")),
        interval=_interval(recurring.get("interval")) or _interval(meta.get("interval")),
        as_of=occurred,
    )


def _polar(payload: dict, occurred: datetime | None) -> SubscriptionState | None:
    if payload.get("type") not in POLAR_TYPES or not isinstance(payload.get("data"), dict):
        return None
    obj = payload["data"]
    if not _text(obj.get("id")):
        return None
    meta = _meta(obj)
    status = POLAR_STATUS.get(obj.get("status"), S.INCOMPLETE)
    return SubscriptionState(
        provider=Provider.POLAR,
        subscription_id=obj["id"],
        customer_id=_text(obj.get("customer_id")),
        status=status,
        seats=_int(obj.get("seats")),
        period_start=moment(obj.get("current_period_start")),
        period_end=moment(obj.get("current_period_end")),
        cancel_at_period_end=obj.get("cancel_at_period_end") is True,
        ended=payload["type"] == "subscription.revoked"
        or (status == S.CANCELED and not obj.get("cancel_at_period_end")),
        organization_id=parse_id(meta.get("organization_id")),
        plan_id=parse_id(meta.get("plan_id")),
        interval=_interval(obj.get("recurring_interval")),
        as_of=moment(obj.get("modified_at")) or occurred,
    )


def _dodo(payload: dict, occurred: datetime | None) -> SubscriptionState | None:
    if payload.get("type") not in DODO_TYPES or not isinstance(payload.get("data"), dict):
        return None
    obj = payload["data"]
    if not _text(obj.get("subscription_id")):
        return None
    meta = _meta(obj)
    status = DODO_STATUS.get(obj.get("status"), S.INCOMPLETE)
    customer = obj.get("customer") if isinstance(obj.get("customer"), dict) else {}
    unit = obj.get("payment_frequency_interval")
    return SubscriptionState(
        provider=Provider.DODO,
        subscription_id=obj["subscription_id"],
        customer_id=_text(customer.get("customer_id")),
        status=status,
        seats=_int(obj.get("quantity")),
        period_start=moment(obj.get("previous_billing_date")),
        period_end=moment(obj.get("next_billing_date")),
        cancel_at_period_end=obj.get("cancel_at_next_billing_date") is True,
        ended=status == S.CANCELED,
        organization_id=parse_id(meta.get("organization_id")),
        plan_id=parse_id(meta.get("plan_id")),
        interval={"Month": Interval.MONTH, "Year": Interval.YEAR}.get(unit) if isinstance(unit, str) else None,
        # Dodo delivers the latest state at delivery time: the event's timestamp is when that state was read
        as_of=occurred,
    )


def subscription_state(provider: Provider, payload: dict, occurred: datetime | None) -> SubscriptionState | None:
    """The subscription state an event carries, or None when it carries none."""
    if provider in (Provider.STRIPE, Provider.SANDBOX):
        return _stripe(provider, payload, occurred)
    if provider == Provider.POLAR:
        return _polar(payload, occurred)
    return _dodo(payload, occurred)


STRIPE_INVOICE_TYPES = frozenset(
    {"invoice.finalized", "invoice.paid", "invoice.payment_failed", "invoice.voided", "invoice.marked_uncollectible"}
)
INVOICE_STATUS = {
    "open": InvoiceStatus.OPEN, "paid": InvoiceStatus.PAID, "void": InvoiceStatus.VOID,
    "uncollectible": InvoiceStatus.UNCOLLECTIBLE,
}  # fmt: skip


@dataclass(frozen=True)
class InvoiceNews:
    """A finalized invoice an event reports, with what says whose it is."""

    invoice: ProviderInvoice
    subscription_id: str | None
    organization_id: uuid.UUID | None


def _line(raw: dict) -> Line | None:
    amount = raw.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool):
        return None
    meta = _meta(raw)
    if amount < 0:
        kind = LineKind.REFUND
    elif raw.get("proration") is True:
        kind = LineKind.PRORATION
    elif meta.get("kind") == "usage":
        kind = LineKind.USAGE
    else:
        kind = LineKind.SUBSCRIPTION
    description = raw.get("description") if isinstance(raw.get("description"), str) else str(kind).capitalize()
    return Line(kind, description or str(kind), _int(raw.get("quantity")) or 1, abs(amount))


def invoice_news(provider: Provider, payload: dict) -> InvoiceNews | None:
    """The invoice a Stripe-dialect event reports (Stripe and the sandbox), or None."""
    if provider not in (Provider.STRIPE, Provider.SANDBOX) or payload.get("type") not in STRIPE_INVOICE_TYPES:
        return None
    data = payload.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict) or not _text(obj.get("id")):
        return None
    status = INVOICE_STATUS.get(obj.get("status"))
    if status is None:  # a draft is not an invoice yet
        return None
    raw_lines = (obj.get("lines") or {}).get("data") if isinstance(obj.get("lines"), dict) else None
    lines = tuple(line for raw in (raw_lines or []) if isinstance(raw, dict) and (line := _line(raw)))
    currency = obj.get("currency") if isinstance(obj.get("currency"), str) else "usd"
    transitions = obj.get("status_transitions") if isinstance(obj.get("status_transitions"), dict) else {}
    return InvoiceNews(
        ProviderInvoice(
            provider=provider, reference=obj["id"], status=status,
            currency=currency.upper() if len(currency) == 3 and currency.isalpha() else "USD",
            period_start=moment(obj.get("period_start")), period_end=moment(obj.get("period_end")),
            lines=lines, paid_at=moment(transitions.get("paid_at")), plan_id=parse_id(_meta(obj).get("plan_id")),
        ),
        subscription_id=_text(obj.get("subscription")),
        organization_id=parse_id(_meta(obj).get("organization_id")),
    )  # fmt: skip


def completed_checkout(provider: Provider, payload: dict) -> str | None:
    """The provider's id of a checkout an event says was paid (None: the event says no such thing). Stripe and the
    sandbox: `checkout.session.completed`; Polar: `checkout.updated` to `succeeded`; Dodo: `payment.succeeded` of a
    checkout session's payment."""
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    kind = payload.get("type")
    if provider in (Provider.STRIPE, Provider.SANDBOX) and kind == "checkout.session.completed":
        obj = data.get("object") if isinstance(data.get("object"), dict) else {}
        return _text(obj.get("id")) if obj.get("mode") == "subscription" else None  # payment mode: a purchase
    if provider == Provider.POLAR and kind == "checkout.updated" and data.get("status") == "succeeded":
        return _text(data.get("id"))
    if provider == Provider.DODO and kind == "payment.succeeded":
        return _text(data.get("checkout_session_id"))
    return None


@dataclass(frozen=True)
class PaymentNews:
    """What an event says became of a one-time payment: the outcome, the provider's reference for the purchase
    (what we stored when it started) and our payment id from the metadata we sent (either may be missing)."""

    outcome: PaymentStatus
    reference: str | None
    payment_id: uuid.UUID | None
    organization_id: uuid.UUID | None


STRIPE_PAYMENT_TYPES = {
    "payment_intent.succeeded": PaymentStatus.SUCCEEDED, "payment_intent.payment_failed": PaymentStatus.FAILED,
    "charge.refunded": PaymentStatus.REFUNDED, "checkout.session.completed": PaymentStatus.SUCCEEDED,
    "checkout.session.async_payment_succeeded": PaymentStatus.SUCCEEDED,
    "checkout.session.async_payment_failed": PaymentStatus.FAILED,
}  # fmt: skip
POLAR_PAYMENT_TYPES = {"order.paid": PaymentStatus.SUCCEEDED, "order.refunded": PaymentStatus.REFUNDED}
DODO_PAYMENT_TYPES = {"payment.succeeded": PaymentStatus.SUCCEEDED, "payment.failed": PaymentStatus.FAILED}


def payment_news(provider: Provider, payload: dict) -> PaymentNews | None:
    """What an event says about a one-time payment, or None when it is not about one."""
    kind, data = payload.get("type"), payload.get("data") if isinstance(payload.get("data"), dict) else {}
    if provider in (Provider.STRIPE, Provider.SANDBOX):
        outcome, obj = STRIPE_PAYMENT_TYPES.get(kind), data.get("object")
        if outcome is None or not isinstance(obj, dict):
            return None
        if kind.startswith("checkout.session.") and (obj.get("mode") != "payment" or (
            kind == "checkout.session.completed" and obj.get("payment_status") != "paid"
        )):  # fmt: skip
            return None  # a subscription's checkout, or a payment still being settled
        reference = obj.get("payment_intent") if kind == "charge.refunded" else obj.get("id")
    elif provider == Provider.POLAR:
        outcome, obj = POLAR_PAYMENT_TYPES.get(kind), data
        if outcome is None or obj.get("subscription_id"):  # a subscription's order is its invoice, not a purchase
            return None
        reference = obj.get("checkout_id")
    else:
        outcome, obj = DODO_PAYMENT_TYPES.get(kind), data
        if outcome is None or obj.get("subscription_id"):
            return None
        reference = obj.get("checkout_session_id")
    meta = _meta(obj)
    org_id = parse_id(meta.get("organization_id"))
    return PaymentNews(outcome, _text(reference), parse_id(meta.get("payment_id")), org_id)
