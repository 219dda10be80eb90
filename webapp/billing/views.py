"""Staff's plan pages: every plan with its versions, and the form that revises one (a new version when what it
costs or allows changes)."""

from __future__ import annotations

import uuid

from quart import Blueprint, Response, current_app, flash, g, redirect, request, url_for

from webapp.billing import entitlements, invoices, payments, plans, sandbox, service, staff, subscriptions
from webapp.billing.enums import (
    METRIC_LABELS,
    EventStatus,
    Interval,
    Metric,
    OneTimeProduct,
    PaymentStatus,
    Provider,
)
from webapp.billing.forms import PlanForm, cents, form_data, plan_values
from webapp.billing.pdf import invoice_pdf_bytes
from webapp.billing.providers import adapter_for
from webapp.billing.tasks import deliver_after_commit
from webapp.core import audit
from webapp.core.errors import Conflict, ValidationError
from webapp.core.forms import require_id, show_errors
from webapp.core.htmx import render
from webapp.core.ids import parse_id
from webapp.core.permissions import Perm, requires, staff_only
from webapp.core.transaction import db_session
from webapp.usage import credits
from webapp.usage import service as usage_service

bp = Blueprint("billing", __name__)
# the service's names for what the form calls otherwise
FIELD_OF = {
    "monthly_price_minor": "monthly_price",
    "yearly_price_minor": "yearly_price",
    "seat_price_minor": "seat_price",
    "storage_limit_bytes": "storage_limit_gb",
} | {f"meters.{m}": f"{m}_included" for m in Metric}


@bp.get("/admin/plans")
@requires()
async def admin_plans():
    """The plans offered now and every earlier version, for staff."""
    staff_only()
    session = db_session()
    return await render(
        "billing/admin_plans.html",
        offered=await plans.current_plans(session),
        history=await plans.plan_history(session),
        metric_labels=METRIC_LABELS,
    )


@bp.get("/admin/plans/<uuid:plan_id>/edit")
@requires()
async def admin_edit_plan(plan_id: uuid.UUID):
    """The form of one current plan."""
    staff_only()
    plan = await plans.get_plan(db_session(), plan_id)
    return await _form_page(plan, PlanForm(data=form_data(plans.snapshot(plan))))


async def _form_page(plan, form: PlanForm, *, status: int = 200, error: str | None = None):
    return await render(
        "billing/admin_plan_form.html",
        plan=plan,
        form=form,
        metrics=list(Metric),
        metric_labels=METRIC_LABELS,
        error=error,
        status=status,
    )


@bp.post("/admin/plans/<uuid:plan_id>")
@requires()
async def admin_revise_plan(plan_id: uuid.UUID):
    """Save the form: a new version when a price, seat or limit changed, else the name and description in place."""
    staff_only()
    session = db_session()
    plan = await plans.get_plan(session, plan_id)
    form = PlanForm(await request.form)
    if not form.validate():
        return await _form_page(plan, form, status=422)
    try:
        saved = await plans.revise_plan(session, g.ctx, plan.id, plan_values(form))
    except ValidationError as exc:
        fields = {FIELD_OF.get(name, name): errors for name, errors in exc.details.get("fields", {}).items()}
        unplaced = [m for name, ms in fields.items() if name not in form._fields for m in ms]
        show_errors(form, ValidationError(details={"fields": fields}))
        return await _form_page(plan, form, status=422, error=" ".join(unplaced) or None)
    except Conflict as exc:
        return await _form_page(plan, form, status=409, error=exc.message)
    message = (
        f"{saved.name} is now version {saved.version}; subscriptions on earlier versions keep theirs."
        if saved.id != plan.id
        else f"{saved.name} saved."
    )
    await flash(message, "success")
    return redirect(url_for("billing.admin_plans"), 303)


# ---------------------------------------------------------------------------------------------- the organization's


def _provider() -> str:
    return current_app.extensions["closedloop"]["settings"].billing_provider


@bp.get("/o/<org_slug>/billing")
@requires(Perm.BILLING_READ)
async def organization():
    """The plan, seats used of paid, usage against the limits as bars, and the plans to move to."""
    session = db_session()
    standing = await entitlements.standing(session, g.ctx.org_id)
    waiting = await sandbox.waiting_checkout(session, g.ctx.org_id, parse_id(request.args.get("pending")))
    if waiting is None and request.args.get("asked", "").isdigit():  # a change asked of the provider, unconfirmed
        waiting = standing.subscription if standing.subscription.version == int(request.args["asked"]) else None
    return await render(
        "billing/organization.html",
        waiting=waiting,
        standing=standing,
        subscription=standing.subscription,
        usage=await service.usage(session, standing),
        offered=await plans.current_plans(session),
        invoices=await invoices.list_invoices(session, g.ctx.org_id),
        payments=await payments.list_payments(session, g.ctx.org_id),
        account=await credits.balance_of(session, g.ctx.org_id),
        next_invoice=service.next_invoice(standing.subscription),
        provider=_provider(),
    )


@bp.post("/o/<org_slug>/billing/checkout")
@requires(Perm.BILLING_MANAGE)
async def checkout():
    """Start buying the chosen plan; the provider's checkout page takes it from here."""
    form = await request.form
    plan_id = require_id(form.get("plan_id"), "plan_id")
    interval = form.get("interval", "month")
    if interval not in ("month", "year"):
        raise ValidationError.field("interval", "Choose monthly or yearly.")
    started = await service.start_checkout(
        db_session(),
        g.ctx,
        plan_id=plan_id,
        interval=Interval(interval),
        seats=None,
        provider=_provider(),
        settings=current_app.extensions["closedloop"]["settings"],
    )
    return redirect(service.checkout_url(g.ctx.org_slug, started), 303)


@bp.get("/o/<org_slug>/billing/sandbox/<uuid:checkout_id>")
@requires(Perm.BILLING_MANAGE)
async def sandbox_checkout(checkout_id: uuid.UUID):
    """The sandbox provider's checkout page: what is bought, the amount, and a test card."""
    session = db_session()
    found = await sandbox.get_open_checkout(session, g.ctx.org_id, checkout_id)
    plan = await plans.get_plan(session, found.plan_id)
    return await render("billing/sandbox_checkout.html", checkout=found, plan=plan, total=price_of(plan, found))


@bp.post("/o/<org_slug>/billing/sandbox/<uuid:checkout_id>")
@requires(Perm.BILLING_MANAGE)
async def sandbox_pay(checkout_id: uuid.UUID):
    """Pay at the sandbox: it sends its signed events to the webhook endpoint (a worker delivers them)."""
    session = db_session()
    found = await sandbox.get_open_checkout(session, g.ctx.org_id, checkout_id)
    plan = await plans.get_plan(session, found.plan_id)
    deliver_after_commit(session, await sandbox.pay(session, g.ctx, found, plan))
    await flash(f"Payment taken. The {plan.name} plan turns on as soon as the payment is confirmed.", "success")
    return redirect(url_for("billing.organization", pending=str(found.id)), 303)


def price_of(plan, found) -> int:
    """What a checkout charges for its first period: the sum of its invoice's lines."""
    return sum(line["amount"] for line in sandbox.invoice_lines(plan, found))


@bp.get("/o/<org_slug>/billing/invoices/<uuid:invoice_id>")
@requires(Perm.BILLING_READ)
async def invoice(invoice_id: uuid.UUID):
    """One invoice, laid out to print."""
    found = await invoices.get_invoice(db_session(), g.ctx.org_id, invoice_id)
    plan = await plans.get_plan(db_session(), found.plan_id)
    return await render(
        "billing/invoice.html", invoice=found, plan=plan, number=invoices.display_number(g.ctx.org_slug, found)
    )


@bp.get("/o/<org_slug>/billing/invoices/<uuid:invoice_id>.pdf")
@requires(Perm.BILLING_READ)
async def invoice_pdf(invoice_id: uuid.UUID):
    """The invoice as a PDF (fpdf2), downloaded under its number."""
    found = await invoices.get_invoice(db_session(), g.ctx.org_id, invoice_id)
    plan = await plans.get_plan(db_session(), found.plan_id)
    number = invoices.display_number(g.ctx.org_slug, found)
    body = invoice_pdf_bytes(found, plan, number, g.ctx.org_name)
    return Response(
        body,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{number}.pdf"', "Cache-Control": "private"},
    )


def _change_args(source) -> dict:
    seats = source.get("seats", "")
    interval = source.get("interval") or None
    if interval not in (None, "month", "year"):
        raise ValidationError.field("interval", "Choose monthly or yearly.")
    if seats and (not seats.isdigit() or not 1 <= int(seats) <= 1_000_000):
        raise ValidationError.field("seats", "Give a whole number of seats.")
    return {
        "plan_id": parse_id(source.get("plan_id")) if source.get("plan_id") else None,
        "seats": int(seats) if seats else None,
        "interval": Interval(interval) if interval else None,
    }


@bp.get("/o/<org_slug>/billing/change")
@requires(Perm.BILLING_MANAGE)
async def review_change():
    """What a plan, seat or interval change costs now, to confirm or go back (nothing chosen yet: a form to choose)."""
    session = db_session()
    args = _change_args(request.args)
    if not any(args.values()):  # nothing chosen yet: the form to choose with
        subscription = await subscriptions.get_subscription(session, g.ctx.org_id)
        offered = [p for p in await plans.current_plans(session) if not p.is_default]
        return await render("billing/change.html", change=None, subscription=subscription, offered=offered)
    change = await service.plan_change(session, g.ctx.org_id, **args)
    return await render("billing/change.html", change=change)


@bp.post("/o/<org_slug>/billing/change")
@requires(Perm.BILLING_MANAGE)
async def confirm_change():
    """Ask the provider for the change; the page waits for its confirmation."""
    form = await request.form
    session = db_session()
    version = require_version(form.get("version"))
    settings = current_app.extensions["closedloop"]["settings"]
    change, events = await service.change_subscription(
        session, g.ctx, version=version, settings=settings, **_change_args(form)
    )
    deliver_after_commit(session, events)
    due = change.proration.amount_due
    await flash(
        f"Change asked of the provider{f' ({due / 100:,.2f} {change.plan.currency} due now)' if due else ''}; "
        "it shows here once confirmed.",
        "success",
    )
    return redirect(url_for("billing.organization", asked=change.subscription.version), 303)


@bp.post("/o/<org_slug>/billing/cancel")
@requires(Perm.BILLING_MANAGE)
async def cancel():
    """End the subscription with its period (or, with resume=1, keep it going)."""
    form = await request.form
    session = db_session()
    resume = form.get("resume") == "1"
    events = await service.set_cancel_at_period_end(
        session,
        g.ctx,
        cancel=not resume,
        version=require_version(form.get("version")),
        settings=current_app.extensions["closedloop"]["settings"],
    )
    deliver_after_commit(session, events)
    sub = await subscriptions.get_subscription(session, g.ctx.org_id)
    await flash("Resuming the subscription." if resume else "The subscription will end with this period.", "success")
    return redirect(url_for("billing.organization", asked=sub.version), 303)


def require_version(raw) -> int:
    """The version a form read; a 422 otherwise."""
    if not isinstance(raw, str) or not raw.isdigit() or not 1 <= int(raw) < 2**31:
        raise ValidationError.field("version", "Reload the page and try again.")
    return int(raw)


# ---------------------------------------------------------------------------------------------------- staff's


@bp.get("/admin/billing/events")
@requires()
async def admin_events():
    """The provider event log: status, attempts, the last error; filter by status or provider."""
    staff_only()
    status, provider = request.args.get("status") or None, request.args.get("provider") or None
    if status not in (None, *EventStatus) or provider not in (None, *Provider):
        raise ValidationError.field("status" if status not in (None, *EventStatus) else "provider", "Not a choice.")
    found = await staff.events(
        db_session(), status=EventStatus(status) if status else None, provider=Provider(provider) if provider else None
    )
    return await render(
        "billing/admin_events.html", events=found, status=status, provider=provider,
        statuses=list(EventStatus), providers=list(Provider),
    )  # fmt: skip


@bp.post("/admin/billing/events/<uuid:event_id>/reprocess")
@requires()
async def admin_reprocess(event_id: uuid.UUID):
    """Apply one event again (audited)."""
    staff_only()
    maker = current_app.extensions["closedloop"]["sessionmaker"]
    outcome = await staff.reprocess(db_session(), maker, g.ctx, event_id)
    await flash(f"Event processed again: {outcome}.", "success" if outcome != EventStatus.FAILED else "error")
    return redirect(url_for("billing.admin_events"), 303)


@bp.get("/admin/billing/subscriptions")
@requires()
async def admin_subscriptions():
    """Every organization's plan, status, seats and provider."""
    staff_only()
    return await render("billing/admin_subscriptions.html", rows=await staff.all_subscriptions(db_session()))


@bp.post("/o/<org_slug>/billing/payments")
@requires(Perm.BILLING_MANAGE)
async def buy_credits():
    """Start buying simulation credits; the sandbox's page takes the payment."""
    form = await request.form
    quantity = form.get("quantity", "")
    if not quantity.isdigit() or not 1 <= int(quantity) <= 1000:
        raise ValidationError.field("quantity", "Buy from 1 to 1000 packs.")
    settings = current_app.extensions["closedloop"]["settings"]
    payment = await payments.start(
        db_session(), g.ctx, OneTimeProduct.SIMULATION_CREDITS, int(quantity), _provider(), settings
    )
    return redirect(service.payment_url(g.ctx.org_slug, payment), 303)


@bp.get("/o/<org_slug>/billing/sandbox/payments/<uuid:payment_id>")
@requires(Perm.BILLING_MANAGE)
async def sandbox_payment(payment_id: uuid.UUID):
    """The sandbox's page for a one-time payment."""
    payment = await payments.get_payment(db_session(), g.ctx.org_id, payment_id)
    if payment.status != PaymentStatus.PENDING or payment.provider != Provider.SANDBOX:
        raise Conflict("This payment is not waiting to be paid here.")
    return await render("billing/sandbox_payment.html", payment=payment)


@bp.post("/o/<org_slug>/billing/sandbox/payments/<uuid:payment_id>")
@requires(Perm.BILLING_MANAGE)
async def sandbox_pay_once(payment_id: uuid.UUID):
    """Pay at the sandbox: its signed event reaches the webhook endpoint through a worker job."""
    session = db_session()
    payment = await payments.get_payment(session, g.ctx.org_id, payment_id)
    if payment.status != PaymentStatus.PENDING or payment.provider != Provider.SANDBOX:
        raise Conflict("This payment is not waiting to be paid here.")
    await audit.record(
        session, g.ctx, "billing.sandbox_payment", entity_type="billing_payment", entity_id=payment.id,
        after={"amount_minor": payment.amount_minor},
    )  # fmt: skip
    deliver_after_commit(session, payments.sandbox_events(payment))
    await flash("Payment taken; it shows as paid once the provider confirms.", "success")
    return redirect(url_for("billing.organization"), 303)


@bp.get("/admin/billing/organizations/<uuid:organization_id>/invoices")
@requires()
async def admin_invoices(organization_id: uuid.UUID):
    """An organization's invoices and credit notes, with a credit note form per invoice."""
    staff_only()  # (not `org_id`: that name makes the route enter the organization as a member)
    session = db_session()
    org, found = await staff.organization_invoices(session, organization_id)
    account = await credits.balance_of(session, organization_id)  # the bypass is on: staff.organization_invoices
    return await render("billing/admin_invoices.html", org=org, invoices=found, account=account, key=uuid.uuid4().hex)


@bp.post("/admin/billing/organizations/<uuid:organization_id>/credits")
@requires()
async def admin_change_credits(organization_id: uuid.UUID):
    """Give an organization credits, or take some away, with a reason (a key in the form makes a resend harmless)."""
    staff_only()
    form = await request.form
    raw = (form.get("amount") or "").strip()
    if not raw.lstrip("-").isdigit() or len(raw) > 12:
        raise ValidationError.field("amount", "A whole number of credits, e.g. 5000 or -200.")
    key = (form.get("key") or "").strip()[:100] or uuid.uuid4().hex
    session = db_session()
    await staff.organization_invoices(session, organization_id)  # NotFound for an organization that is not there
    entry = await usage_service.staff_change_credits(
        session, g.ctx, organization_id, int(raw), form.get("reason", ""), key
    )
    await flash(f"Credits changed by {entry.amount:+,}; the balance is {entry.balance_after:,}.", "success")
    return redirect(url_for("billing.admin_invoices", organization_id=organization_id), 303)


@bp.post("/admin/billing/invoices/<uuid:invoice_id>/credit-note")
@requires()
async def admin_credit_note(invoice_id: uuid.UUID):
    """Correct an invoice with a credit note (an amount up to what is left, and why)."""
    staff_only()
    form = await request.form
    try:
        amount = cents(form.get("amount"))
    except ValueError as exc:
        raise ValidationError.field("amount", str(exc)) from None
    note = await staff.credit(db_session(), g.ctx, invoice_id, amount or 0, form.get("reason", ""))
    await flash(f"Credit note {note.number} issued.", "success")
    return redirect(url_for("billing.admin_invoices", organization_id=note.organization_id), 303)


@bp.post("/o/<org_slug>/billing/payment-method")
@requires(Perm.BILLING_MANAGE)
async def payment_method():
    """Where the card on file is changed: the provider's customer portal (the sandbox's own page)."""
    sub = await subscriptions.get_subscription(db_session(), g.ctx.org_id)
    if sub.provider not in (None, Provider.SANDBOX) and sub.provider_customer_id:
        adapter = adapter_for(sub.provider, current_app.extensions["closedloop"]["settings"])
        return redirect(await adapter.portal_url(sub.provider_customer_id, g.ctx.org_slug), 303)
    if sub.provider != Provider.SANDBOX:
        raise Conflict("There is no card to change: the organization pays nothing, or its provider has no portal here.")
    return redirect(url_for("billing.sandbox_payment_method"), 303)


@bp.get("/o/<org_slug>/billing/sandbox/payment-method")
@requires(Perm.BILLING_MANAGE)
async def sandbox_payment_method():
    """The sandbox's stand-in for a customer portal: the test card on file."""
    sub = await subscriptions.get_subscription(db_session(), g.ctx.org_id)
    return await render("billing/sandbox_payment_method.html", subscription=sub)
