"""Staff's plan pages: every plan with its versions, and the form that revises one (a new version when what it
costs or allows changes)."""

from __future__ import annotations

import uuid

from quart import Blueprint, flash, g, redirect, request, url_for

from webapp.billing import plans
from webapp.billing.enums import METRIC_LABELS, Metric
from webapp.billing.forms import PlanForm, form_data, plan_values
from webapp.core.errors import Conflict, ValidationError
from webapp.core.forms import show_errors
from webapp.core.htmx import render
from webapp.core.permissions import requires, staff_only
from webapp.core.transaction import db_session

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
