"""JSON API of billing: the public plan list (cacheable, with an ETag) and any plan version by id."""

from __future__ import annotations

import uuid

from quart import Blueprint, current_app, g, request
from quart_schema import document_request

from webapp.billing import entitlements, intake, invoices, payments, plans, service
from webapp.billing.enums import Provider
from webapp.billing.models import Checkout, Invoice, Payment, Plan
from webapp.billing.schemas import (
    ChangeIn,
    ChangePreview,
    ChangeQuery,
    ChangeRequested,
    CheckoutIn,
    CheckoutOut,
    InvoiceLineOut,
    InvoiceList,
    InvoiceOut,
    MeterOut,
    OneTimeIn,
    PaymentList,
    PaymentOut,
    PlanList,
    PlanOut,
    SubscriptionOut,
    UsageOut,
    VersionQuery,
    WebhookAck,
)
from webapp.billing.tasks import deliver_after_commit, enqueue_event
from webapp.core.errors import ValidationError
from webapp.core.forms import csrf_exempt, parse_body, parse_query
from webapp.core.openapi import query, raises, returns
from webapp.core.permissions import Perm, public, require_bound_credential, requires
from webapp.core.transaction import db_session

bp = Blueprint("billing_api", __name__, url_prefix="/api/v1/billing")
org_bp = Blueprint("org_billing_api", __name__, url_prefix="/api/v1/organizations/<org:org_id>/billing")
webhooks_bp = Blueprint("webhooks_api", __name__, url_prefix="/api/v1/webhooks")
CACHE = "public, max-age=300"  # prices change rarely, and a changed one is a new version with its own id


def plan_out(plan: Plan) -> dict:
    """Plan -> response JSON."""
    return PlanOut(
        id=plan.id, key=plan.key, version=plan.version, name=plan.name, description=plan.description,
        status=plan.status, is_default=plan.is_default, currency=plan.currency,
        monthly_price_minor=plan.monthly_price_minor, yearly_price_minor=plan.yearly_price_minor,
        seat_price_minor=plan.seat_price_minor, included_seats=plan.included_seats, seat_limit=plan.seat_limit,
        mission_limit=plan.mission_limit, storage_limit_bytes=plan.storage_limit_bytes,
        monthly_run_limit=plan.monthly_run_limit, monthly_credits=plan.monthly_credits,
        api_requests_per_minute=plan.api_requests_per_minute,
        meters=[
            MeterOut(metric=m.metric, included=m.included, unit_size=m.unit_size,
                     overage_price_minor=m.overage_price_minor)
            for m in plan.meters
        ],
        created_at=plan.created_at,
    ).model_dump(mode="json")  # fmt: skip


@bp.get("/plans")
@public
@returns(PlanList)
@returns(None, 304)
async def list_plans():
    """The plans offered now, cheapest first: prices in minor units, seats, limits, and what each includes of every
    metered item with its overage price. Send the `ETag` back in `If-None-Match` to get a 304 while nothing
    changed."""
    offered = await plans.current_plans(db_session())
    tag = plans.etag_of(offered)
    headers = {"ETag": f'"{tag}"', "Cache-Control": CACHE}
    if request.if_none_match.contains(tag):
        return "", 304, headers
    return {"items": [plan_out(p) for p in offered]}, 200, headers


@bp.get("/plans/<uuid:plan_id>")
@public
@returns(PlanOut)
@returns(None, 304)
async def get_plan(plan_id: uuid.UUID):
    """One plan version, current or not (a subscription names the version it bought)."""
    plan = await plans.get_plan(db_session(), plan_id)
    tag = plans.etag_of([plan])
    headers = {"ETag": f'"{tag}"', "Cache-Control": CACHE}
    if request.if_none_match.contains(tag):
        return "", 304, headers
    return plan_out(plan), 200, headers


async def _subscription_out() -> dict:
    session = db_session()
    standing = await entitlements.standing(session, g.ctx.org_id)
    sub = standing.subscription
    return SubscriptionOut(
        id=sub.id, plan=plan_out(sub.plan), limits_plan_id=standing.plan.id, status=sub.status,
        interval=sub.interval, seats=sub.seats, provider=sub.provider,
        current_period_start=sub.current_period_start, current_period_end=sub.current_period_end,
        cancel_at_period_end=sub.cancel_at_period_end, past_due_since=sub.past_due_since,
        grace_ends_at=standing.grace_ends, read_only=standing.read_only,
        usage=[UsageOut(limit=u.limit, used=u.used, allowed=u.allowed) for u in await service.usage(session, standing)],
        version=sub.version,
    ).model_dump(mode="json")  # fmt: skip


def _checkout_out(checkout: Checkout) -> dict:
    return CheckoutOut(
        id=checkout.id, status=checkout.status, provider=checkout.provider, plan_id=checkout.plan_id,
        interval=checkout.interval, seats=checkout.seats, expires_at=checkout.expires_at,
        checkout_url=_absolute(service.checkout_url(g.ctx.org_slug, checkout)),
    ).model_dump(mode="json")  # fmt: skip


def _absolute(url: str) -> str:
    return (
        url
        if url.startswith(("https://", "http://"))
        else current_app.extensions["closedloop"]["settings"].base_url + url
    )


async def _start_checkout() -> tuple[dict, int]:
    body = await parse_body(CheckoutIn)
    checkout = await service.start_checkout(
        db_session(), g.ctx, plan_id=body.plan_id, interval=body.interval, seats=body.seats,
        provider=current_app.extensions["closedloop"]["settings"].billing_provider,
        settings=current_app.extensions["closedloop"]["settings"],
    )  # fmt: skip
    return _checkout_out(checkout), 201


@bp.get("/subscription")
@requires(Perm.BILLING_READ)
@returns(SubscriptionOut)
async def get_subscription():
    """The credential's organization's subscription: plan, status, paid seats, period, and usage against the
    limits that apply now."""
    await require_bound_credential()
    return await _subscription_out()


@bp.post("/subscription")
@requires(Perm.BILLING_MANAGE)
@document_request(CheckoutIn)
@returns(CheckoutOut, 201)
async def start_subscription():
    """Start buying a plan: a checkout whose `checkout_url` takes the payment. The subscription changes when the
    provider's webhook reports the payment, not before."""
    await require_bound_credential()
    return await _start_checkout()


@org_bp.get("/subscription")
@requires(Perm.BILLING_READ)
@returns(SubscriptionOut)
async def get_organization_subscription(org_id):
    """The organization's subscription (the same as GET /billing/subscription, for browser sessions)."""
    return await _subscription_out()


@org_bp.post("/subscription")
@requires(Perm.BILLING_MANAGE)
@document_request(CheckoutIn)
@returns(CheckoutOut, 201)
async def start_organization_subscription(org_id):
    """Start buying a plan (the same as POST /billing/subscription, for browser sessions)."""
    return await _start_checkout()


def preview_out(change: service.Change) -> dict:
    """A worked-out change -> response JSON."""
    p = change.proration
    return ChangePreview(
        plan_id=change.plan.id, seats=change.seats, interval=change.interval, currency=change.plan.currency,
        old_price_minor=change.old_price, new_price_minor=change.new_price, credit_minor=p.credit,
        charge_minor=p.charge, amount_due_minor=p.amount_due, credit_left_minor=p.credit_left,
        period_start=change.period_start, period_end=change.period_end,
    ).model_dump(mode="json")  # fmt: skip


async def _preview() -> dict:
    args = parse_query(ChangeQuery)
    change = await service.plan_change(
        db_session(), g.ctx.org_id, plan_id=args.plan_id, seats=args.seats, interval=args.interval
    )
    return preview_out(change)


async def _change() -> tuple[dict, int]:
    body = await parse_body(ChangeIn)
    session = db_session()
    wants_change = body.plan_id is not None or body.seats is not None or body.interval is not None
    if wants_change == (body.cancel_at_period_end is not None):
        raise ValidationError(
            "Send a plan, seats or interval change, or cancel_at_period_end — one of the two.",
            {"fields": {"cancel_at_period_end": ["Send it alone, or a change without it."]}},
        )
    preview = None
    if wants_change:
        change, events = await service.change_subscription(
            session,
            g.ctx,
            plan_id=body.plan_id,
            seats=body.seats,
            interval=body.interval,
            version=body.version,
            settings=current_app.extensions["closedloop"]["settings"],
        )
        preview = preview_out(change)
    else:
        events = await service.set_cancel_at_period_end(
            session,
            g.ctx,
            cancel=bool(body.cancel_at_period_end),
            version=body.version,
            settings=current_app.extensions["closedloop"]["settings"],
        )
    deliver_after_commit(session, events)
    return {"requested": True, "preview": preview}, 202


async def _cancel() -> tuple[dict, int]:
    args = parse_query(VersionQuery)
    session = db_session()
    settings = current_app.extensions["closedloop"]["settings"]
    events = await service.set_cancel_at_period_end(
        session, g.ctx, cancel=True, version=args.version, settings=settings
    )
    deliver_after_commit(session, events)
    return {"requested": True, "preview": None}, 202


@bp.get("/subscription/preview")
@requires(Perm.BILLING_READ)
@query(ChangeQuery)
@returns(ChangePreview)
@raises(409, 422)
async def preview_change():
    """What changing the plan, seats or interval would cost now (prorated, minor units) — nothing is changed."""
    await require_bound_credential()
    return await _preview()


@bp.patch("/subscription")
@requires(Perm.BILLING_MANAGE)
@document_request(ChangeIn)
@returns(ChangeRequested, 202)
async def change_subscription():
    """Change the plan, seats or interval (prorated), or set `cancel_at_period_end` (false resumes). The provider is
    asked; the subscription changes when its webhook confirms."""
    await require_bound_credential()
    return await _change()


@bp.delete("/subscription")
@requires(Perm.BILLING_MANAGE)
@query(VersionQuery)
@returns(ChangeRequested, 202)
async def cancel_subscription():
    """Cancel at the end of the current period: the organization goes back to the free plan then."""
    await require_bound_credential()
    return await _cancel()


@org_bp.get("/subscription/preview")
@requires(Perm.BILLING_READ)
@query(ChangeQuery)
@returns(ChangePreview)
@raises(409, 422)
async def preview_organization_change(org_id):
    """What a change would cost (the same as GET /billing/subscription/preview, for browser sessions)."""
    return await _preview()


@org_bp.patch("/subscription")
@requires(Perm.BILLING_MANAGE)
@document_request(ChangeIn)
@returns(ChangeRequested, 202)
async def change_organization_subscription(org_id):
    """Change or cancel (the same as PATCH /billing/subscription, for browser sessions)."""
    return await _change()


@org_bp.delete("/subscription")
@requires(Perm.BILLING_MANAGE)
@query(VersionQuery)
@returns(ChangeRequested, 202)
async def cancel_organization_subscription(org_id):
    """Cancel at period end (the same as DELETE /billing/subscription, for browser sessions)."""
    return await _cancel()


def invoice_out(invoice: Invoice) -> dict:
    """Invoice -> response JSON."""
    return InvoiceOut(
        id=invoice.id, number=invoice.number, display_number=invoices.display_number(g.ctx.org_slug, invoice),
        kind=invoice.kind, corrects_id=invoice.corrects_id, status=invoice.status,
        subscription_id=invoice.subscription_id, plan_id=invoice.plan_id, currency=invoice.currency,
        period_start=invoice.period_start, period_end=invoice.period_end,
        subscription_amount=invoice.subscription_amount, usage_amount=invoice.usage_amount,
        proration_amount=invoice.proration_amount, refund_amount=invoice.refund_amount,
        total_amount=invoice.total_amount, finalized_at=invoice.finalized_at, paid_at=invoice.paid_at,
        lines=[
            InvoiceLineOut(position=line.position, kind=line.kind, description=line.description, quantity=line.quantity,
                           amount=line.amount)
            for line in invoice.lines
        ],
    ).model_dump(mode="json")  # fmt: skip


@bp.get("/invoices")
@requires(Perm.BILLING_READ)
@returns(InvoiceList)
async def list_invoices():
    """The credential's organization's invoices and credit notes, newest first."""
    await require_bound_credential()
    return {"items": [invoice_out(i) for i in await invoices.list_invoices(db_session(), g.ctx.org_id)]}


@bp.get("/invoices/<uuid:invoice_id>")
@requires(Perm.BILLING_READ)
@returns(InvoiceOut)
async def get_invoice(invoice_id: uuid.UUID):
    """One invoice with its lines."""
    await require_bound_credential()
    return invoice_out(await invoices.get_invoice(db_session(), g.ctx.org_id, invoice_id))


@org_bp.get("/invoices")
@requires(Perm.BILLING_READ)
@returns(InvoiceList)
async def list_organization_invoices(org_id):
    """The organization's invoices (the same as GET /billing/invoices, for browser sessions)."""
    return {"items": [invoice_out(i) for i in await invoices.list_invoices(db_session(), g.ctx.org_id)]}


@org_bp.get("/invoices/<uuid:invoice_id>")
@requires(Perm.BILLING_READ)
@returns(InvoiceOut)
async def get_organization_invoice(org_id, invoice_id: uuid.UUID):
    """One invoice (the same as GET /billing/invoices/{invoice_id}, for browser sessions)."""
    return invoice_out(await invoices.get_invoice(db_session(), g.ctx.org_id, invoice_id))


def payment_out(payment: Payment) -> dict:
    """Payment -> response JSON."""
    pending = payment.status == "pending"
    return PaymentOut(
        id=payment.id, product=payment.product, description=payment.description, quantity=payment.quantity,
        unit_price_minor=payment.unit_price_minor, amount_minor=payment.amount_minor, currency=payment.currency,
        status=payment.status, provider=payment.provider, created_at=payment.created_at, paid_at=payment.paid_at,
        checkout_url=_absolute(service.payment_url(g.ctx.org_slug, payment)) if pending else None,
    ).model_dump(mode="json")  # fmt: skip


async def _buy() -> tuple[dict, int]:
    body = await parse_body(OneTimeIn)
    settings = current_app.extensions["closedloop"]["settings"]
    payment = await payments.start(
        db_session(), g.ctx, body.product, body.quantity, settings.billing_provider, settings
    )
    return payment_out(payment), 201


@bp.post("/payments/one-time")
@requires(Perm.BILLING_MANAGE)
@document_request(OneTimeIn)
@returns(PaymentOut, 201)
async def buy_once():
    """Buy simulation credits once: a pending payment whose `checkout_url` takes the money; it succeeds when the
    provider's webhook says so."""
    await require_bound_credential()
    return await _buy()


@bp.get("/payments")
@requires(Perm.BILLING_READ)
@returns(PaymentList)
async def list_payments():
    """The credential's organization's one-time payments, newest first."""
    await require_bound_credential()
    return {"items": [payment_out(p) for p in await payments.list_payments(db_session(), g.ctx.org_id)]}


@org_bp.post("/payments/one-time")
@requires(Perm.BILLING_MANAGE)
@document_request(OneTimeIn)
@returns(PaymentOut, 201)
async def buy_once_for_organization(org_id):
    """Buy once (the same as POST /billing/payments/one-time, for browser sessions)."""
    return await _buy()


@org_bp.get("/payments")
@requires(Perm.BILLING_READ)
@returns(PaymentList)
async def list_organization_payments(org_id):
    """One-time payments (the same as GET /billing/payments, for browser sessions)."""
    return {"items": [payment_out(p) for p in await payments.list_payments(db_session(), g.ctx.org_id)]}


@webhooks_bp.post("/<any(sandbox, stripe, polar, dodo):provider>")
@public
@csrf_exempt
@returns(WebhookAck)
@raises(400, 413)
async def receive_webhook(provider: str):
    """A payment provider's event. No session and no CSRF: the signature over the raw body is the credential
    (Stripe and the sandbox: `Stripe-Signature`; Polar and Dodo: Standard Webhooks `webhook-id`,
    `webhook-timestamp`, `webhook-signature`), at most 300 s old. A bad or missing signature is a 400 and stores
    nothing but a security event. Each event is stored once (provider + event id) and applied by a worker."""
    extension = current_app.extensions["closedloop"]
    settings = extension["settings"]
    receipt = await intake.receive(
        extension["engine"], extension["sessionmaker"], g.ctx, Provider(provider), await request.get_data(),
        request.headers, settings.webhook_secrets(provider), enqueue_event, g.get("json_body"),
    )  # fmt: skip
    return {"received": True, "duplicate": receipt.duplicate, "event_id": receipt.event_id, "type": receipt.type}
