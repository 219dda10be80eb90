"""Support pages: staff break-glass and impersonation for staff (/admin/support), the way back from an
impersonation (/support/exit), and the organization's security page (/o/<org>/security): its security events, the
support access it grants and every impersonation that used it."""

from __future__ import annotations

import uuid

from quart import Blueprint, flash, g, redirect, request, url_for

from webapp.core.errors import Conflict, DomainError
from webapp.core.forms import read_form
from webapp.core.htmx import render
from webapp.core.listing import lists
from webapp.core.pagination import parse_limit
from webapp.core.permissions import Perm, refuse_api_keys, requires, staff_only
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import db_session
from webapp.identity.queries import find_user_by_email
from webapp.security import queries as security_queries
from webapp.support import cookies, grants, impersonation, staff_breakglass
from webapp.support.forms import GrantForm, ImpersonateForm, StaffBreakGlassForm

bp = Blueprint("support", __name__)
org_bp = Blueprint("org_security", __name__, url_prefix="/o/<org_slug>/security")


async def _staff_session(reason: str):
    staff_only()
    session = db_session()
    await enable_rls_bypass(session, reason=reason)
    return session


async def _support_page(session, *, status: int = 200, glass_form=None, form=None, error=None):
    mine = await staff_breakglass.active(session, g.ctx.user_id)
    return await render(
        "support/admin.html", recent=await staff_breakglass.recent(session), active=mine,
        glass_form=glass_form or StaffBreakGlassForm(), form=form or ImpersonateForm(), error=error, status=status,
    )  # fmt: skip


@bp.get("/admin/support")
@requires()
async def admin():
    """Staff: break-glass requests (ask, approve another's, end) and the form to act as a user."""
    return await _support_page(await _staff_session("staff read support access"))


@bp.post("/admin/support/break-glass")
@requires()
async def request_break_glass():
    """Ask for staff break-glass; a second staff member approves it here."""
    session = await _staff_session("staff ask for break-glass")
    form = await read_form(StaffBreakGlassForm)
    if not form.validate():
        return await _support_page(session, status=422, glass_form=form)
    await staff_breakglass.request(session, g.ctx, reason=form.reason.data, minutes=form.minutes.data)
    await flash("Break-glass requested: another staff member must approve it.", "success")
    return redirect(url_for("support.admin"), 303)


@bp.post("/admin/support/break-glass/<uuid:grant_id>/<any(approve, end):action>")
@requires()
async def break_glass_action(grant_id: uuid.UUID, action: str):
    """Approve another staff member's request, or end a grant."""
    session = await _staff_session(f"staff {action} break-glass")
    try:
        if action == "approve":
            await staff_breakglass.approve(session, g.ctx, grant_id)
        else:
            await staff_breakglass.end(session, g.ctx, grant_id)
    except DomainError as exc:
        return await _support_page(session, status=exc.status_code, error=exc.message)
    await flash("Break-glass approved." if action == "approve" else "Break-glass ended.", "success")
    return redirect(url_for("support.admin"), 303)


@bp.post("/admin/support/impersonate")
@requires()
async def impersonate():
    """Act as the user with that address (break-glass, an open window, a reason and a ticket)."""
    refuse_api_keys()
    session = await _staff_session("staff start an impersonation")
    form = await read_form(ImpersonateForm)
    if not form.validate():
        return await _support_page(session, status=422, form=form)
    user = await find_user_by_email(session, form.email.data.strip().lower())
    if user is None:
        form.email.errors = ["No account has this address."]
        return await _support_page(session, status=422, form=form)
    try:
        token, record = await impersonation.start(
            session, g.ctx, user.id, reason=form.reason.data, ticket=form.ticket.data
        )
    except DomainError as exc:
        return await _support_page(session, status=exc.status_code, form=form, error=exc.message)
    response = redirect("/", 303)
    cookies.switch_to(response, token)
    return response


@bp.post("/support/exit")
@requires()
async def exit():  # noqa: A001 - the route's name
    """Stop acting as the user: the user is emailed and this browser is the staff member again."""
    session = db_session()
    await enable_rls_bypass(session, reason="staff end an impersonation")
    try:
        await impersonation.exit_(session, g.ctx)
    except Conflict:
        return redirect("/", 303)
    response = redirect(url_for("support.admin"), 303)
    if not cookies.switch_back(response):
        response = redirect(url_for("identity.login"), 303)
        cookies.switch_back(response)
    return response


async def _org_page(*, status: int = 200, form=None, error=None):
    session = db_session()
    window = await grants.live_grant(session, g.ctx.org_id)
    history, sessions = await grants.history(session, g.ctx.org_id)
    filters = {name: request.args.get(name, "").strip()[:200] for name in security_queries.EVENT_FILTERS}
    events = await security_queries.ORG_EVENTS.page(
        session, {"org_id": g.ctx.org_id}, sort=request.args.get("sort") or None, filters=filters,
        cursor=request.args.get("cursor") or None, limit=parse_limit(request.args.get("limit"), 25),
    )  # fmt: skip
    return await render(
        "support/org_security.html", window=window, history=history, sessions=sessions, events=events,
        filters=filters, form=form or GrantForm(), error=error, status=status,
        event_types=[str(t) for t in security_queries.SecurityEventType],
    )  # fmt: skip


@org_bp.get("")
@requires(Perm.SECURITY_READ)
@lists(security_queries.ORG_EVENTS)
async def page():
    """The organization's security: support access (grant, revoke), who used it, and its security events."""
    return await _org_page()


@org_bp.post("/support-access")
@requires(Perm.ORG_WRITE)
async def grant_access():
    """Let ClosedLoop support in for the chosen number of days."""
    form = await read_form(GrantForm)
    if not form.validate():
        return await _org_page(status=422, form=form)
    try:
        await grants.grant(db_session(), g.ctx, days=int(form.days.data))
    except DomainError as exc:
        return await _org_page(status=exc.status_code, form=form, error=exc.message)
    await flash(f"Support access granted for {form.days.data} day(s).", "success")
    return redirect(url_for("org_security.page", org_slug=g.ctx.org_slug), 303)


@org_bp.post("/support-access/<uuid:grant_id>/revoke")
@requires(Perm.ORG_WRITE)
async def revoke_access(grant_id: uuid.UUID):
    """Close the window now; any impersonation under it ends at its next request."""
    try:
        await grants.revoke(db_session(), g.ctx, grant_id)
    except DomainError as exc:
        return await _org_page(status=exc.status_code, error=exc.message)
    await flash("Support access revoked; any session that used it has ended.", "success")
    return redirect(url_for("org_security.page", org_slug=g.ctx.org_slug), 303)
