"""Staff pages for privacy: the request queue (due dates, overdue first, each request's log, deny / extend / retry)
and legal holds (place on a user or an organization, lift with a reason). Every change is audited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from quart import Blueprint, flash, g, redirect, request, url_for

from webapp.core.errors import Conflict, NotFound, ValidationError
from webapp.core.forms import read_form
from webapp.core.htmx import render
from webapp.core.permissions import requires, staff_only
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import db_session
from webapp.identity.models import User
from webapp.identity.queries import find_user_by_email
from webapp.organizations.models import Organization
from webapp.organizations.queries import find_org_by_slug
from webapp.privacy import holds
from webapp.privacy import requests as privacy_requests
from webapp.privacy.forms import HoldForm, LiftForm, StaffReasonForm
from webapp.privacy.models import PrivacySubjectRequest

bp = Blueprint("privacy_staff", __name__, url_prefix="/admin/privacy")


async def _staff_session(reason: str):
    staff_only()
    session = db_session()
    await enable_rls_bypass(session, reason=reason)
    return session


@bp.get("/requests")
@requires()
async def queue():
    """Open requests by due date, overdue flagged; `?all=1` lists every request."""
    session = await _staff_session("staff read the privacy request queue")
    show_all = request.args.get("all") == "1"
    rows = await privacy_requests.queue(session, only_open=not show_all)
    return await render(
        "privacy/admin_requests.html", rows=rows, show_all=show_all, now=datetime.now(UTC),
        overdue=await privacy_requests.overdue_count(session),
    )  # fmt: skip


async def _request_page(session, found: PrivacySubjectRequest, *, status: int = 200, form=None, error=None):
    steps = await privacy_requests.steps_of(session, [found.id])
    subject = await session.get(User, found.user_id) if found.user_id else None
    covering = await holds.holds_covering_user(session, found.user_id) if found.user_id else []
    return await render(
        "privacy/admin_request.html", found=found, steps=steps[found.id], subject=subject, covering=covering,
        form=form or StaffReasonForm(), error=error, now=datetime.now(UTC), status=status,
    )  # fmt: skip


async def _get(session, request_id: uuid.UUID) -> PrivacySubjectRequest:
    found = await session.get(PrivacySubjectRequest, request_id, with_for_update=True)
    if found is None:
        raise NotFound("No such request.")
    return found


@bp.get("/requests/<uuid:request_id>")
@requires()
async def request_detail(request_id: uuid.UUID):
    """One request: its subject, state, due date, holds that cover it and every step."""
    session = await _staff_session("staff read a privacy request")
    return await _request_page(session, await _get(session, request_id))


@bp.post("/requests/<uuid:request_id>/<any(deny, extend, retry):action>")
@requires()
async def act(request_id: uuid.UUID, action: str):
    """Deny (with a reason the person is told), extend once by two months (with a reason), or retry a failed one."""
    session = await _staff_session(f"staff {action} a privacy request")
    found = await _get(session, request_id)
    form = await read_form(StaffReasonForm)
    if action != "retry" and not form.validate():
        return await _request_page(session, found, status=422, form=form)
    try:
        if action == "deny":
            await privacy_requests.deny(session, g.ctx, found, form.reason.data)
        elif action == "extend":
            await privacy_requests.extend(session, g.ctx, found, form.reason.data)
        else:
            await privacy_requests.retry(session, g.ctx, found)
    except Conflict as exc:
        return await _request_page(session, found, status=409, form=form, error=exc.message)
    done = {"deny": "Request denied; the person is told why.", "extend": "Due date extended by two months.",
            "retry": "Sent back to the workers."}[action]  # fmt: skip
    await flash(done, "success")
    return redirect(url_for("privacy_staff.request_detail", request_id=found.id), 303)


async def _holds_page(session, *, form=None, status: int = 200, error=None):
    rows = await holds.all_holds(session)
    users = {u.id: u for u in (await session.execute(
        User.__table__.select().where(User.id.in_([h.user_id for h in rows if h.user_id])))).all()}  # fmt: skip
    orgs = {o.id: o for o in (await session.execute(
        Organization.__table__.select().where(Organization.id.in_([h.organization_id for h in rows
                                                                   if h.organization_id])))).all()}  # fmt: skip
    return await render(
        "privacy/admin_holds.html", rows=rows, users=users, orgs=orgs, form=form or HoldForm(), lift=LiftForm(),
        status=status, error=error, now=datetime.now(UTC),
    )  # fmt: skip


@bp.get("/holds")
@requires()
async def holds_page():
    """Every legal hold, active first, and the form to place one."""
    return await _holds_page(await _staff_session("staff read legal holds"))


@bp.post("/holds")
@requires()
async def place_hold():
    """Place a hold on the user with that address, or the organization at that address."""
    session = await _staff_session("staff place a legal hold")
    form = await read_form(HoldForm)
    if not form.validate():
        return await _holds_page(session, form=form, status=422)
    subject = form.subject.data.strip()
    user = await find_user_by_email(session, subject) if "@" in subject else None
    org = None if user or "@" in subject else await find_org_by_slug(session, subject.lower())
    if user is None and org is None:
        form.subject.errors = ["No user has that address and no organization lives at that address."]
        return await _holds_page(session, form=form, status=422)
    when = form.ends_at.data.replace(tzinfo=UTC) if form.ends_at.data else None
    try:
        await holds.place(
            session, g.ctx, user_id=user.id if user else None, organization_id=org.id if org else None,
            reason=form.reason.data, reference=form.reference.data, ends_at=when,
        )  # fmt: skip
    except ValidationError:
        form.ends_at.errors = ["The end must be in the future (or leave it empty)."]
        return await _holds_page(session, form=form, status=422)
    await flash(f"Legal hold placed on {user.email if user else org.name}.", "success")
    return redirect(url_for("privacy_staff.holds_page"), 303)


@bp.post("/holds/<uuid:hold_id>/lift")
@requires()
async def lift_hold(hold_id: uuid.UUID):
    """Lift a hold with the reason; retention and waiting erasures resume at their next run."""
    session = await _staff_session("staff lift a legal hold")
    form = await read_form(LiftForm)
    if not form.validate():
        return await _holds_page(session, status=422, error="Say why the hold ends (at least 5 characters).")
    try:
        await holds.lift(session, g.ctx, hold_id, reason=form.reason.data)
    except Conflict as exc:
        return await _holds_page(session, status=409, error=exc.message)
    await flash("Legal hold lifted.", "success")
    return redirect(url_for("privacy_staff.holds_page"), 303)
