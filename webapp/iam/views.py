"""Roles and permissions pages: the role × permission matrix, custom roles, assignments, break-glass."""

from __future__ import annotations

import uuid
from datetime import UTC

from quart import Blueprint, current_app, flash, g, redirect, request, url_for

from webapp.core.conflicts import differences
from webapp.core.errors import Conflict, ValidationError
from webapp.core.forms import choices, require_id, show_errors
from webapp.core.htmx import is_htmx, render, toast
from webapp.core.permissions import Perm, requires
from webapp.core.transaction import db_session
from webapp.iam import breakglass, queries, service
from webapp.iam.catalog import PERMISSION_DESCRIPTIONS
from webapp.iam.forms import (
    AssignmentForm,
    BreakGlassRequestForm,
    CapForm,
    ReviewForm,
    RoleForm,
)
from webapp.missions.queries import mission_names
from webapp.organizations import queries as org_queries

bp = Blueprint("iam", __name__, url_prefix="/o/<org_slug>")

PERMISSION_CHOICES = choices((p.value, p.value) for p in PERMISSION_DESCRIPTIONS)


def _role_form(formdata=None, **data) -> RoleForm:
    form = RoleForm(formdata=formdata, **data)
    form.permissions.choices = PERMISSION_CHOICES
    return form


@bp.get("/roles")
@requires(Perm.ROLES_READ)
async def roles():
    """The role × permission matrix, with holders and caps."""
    rows = await queries.list_roles(db_session(), g.ctx.org_id)
    return await render("iam/roles.html", roles=rows, permissions=PERMISSION_DESCRIPTIONS)


@bp.get("/roles/new")
@requires(Perm.ROLES_WRITE)
async def new_role():
    """The form for a custom role."""
    return await render("iam/role_form.html", form=_role_form(), role=None, descriptions=PERMISSION_DESCRIPTIONS)


@bp.post("/roles")
@requires(Perm.ROLES_WRITE)
async def create_role():
    """Create a custom role."""
    form = _role_form(await request.form)
    if not form.validate():
        return await render(
            "iam/role_form.html", form=form, role=None, descriptions=PERMISSION_DESCRIPTIONS, status=422
        )
    try:
        role = await service.create_role(
            db_session(),
            g.ctx,
            name=form.name.data,
            description=form.description.data or "",
            permissions=form.permissions.data,
            max_holders=form.max_holders.data,
            break_glass=form.break_glass.data,
        )
    except (ValidationError, Conflict) as exc:
        if not exc.details.get("fields"):
            raise
        show_errors(form, exc)
        return await render(
            "iam/role_form.html", form=form, role=None, descriptions=PERMISSION_DESCRIPTIONS, status=exc.status_code
        )
    await flash(f"Role “{role.name}” created.", "success")
    return redirect(url_for("iam.roles"), 303)


@bp.get("/roles/<uuid:role_id>")
@requires(Perm.ROLES_READ)
async def role_detail(role_id: uuid.UUID):
    """One role: what it grants, who holds it; the edit form for those who may."""
    session = db_session()
    role = await queries.get_role(session, g.ctx.org_id, role_id)
    return await _role_page(role, _filled_form(role), status=200)


def _filled_form(role):
    """The edit form showing the role as stored now."""
    if role.is_system:
        return CapForm(data={"max_holders": role.max_holders, "version": role.version})
    return _role_form(
        data={
            "name": role.name,
            "description": role.description,
            "permissions": role.permissions,
            "max_holders": role.max_holders,
            "break_glass": role.break_glass,
            "version": role.version,
        }
    )


@bp.post("/roles/<uuid:role_id>")
@requires(Perm.ROLES_WRITE)
async def update_role(role_id: uuid.UUID):
    """Save a role; a stale form comes back with both versions side by side (409)."""
    session = db_session()
    role = await queries.get_role(session, g.ctx.org_id, role_id)
    data = await request.form
    form = CapForm(formdata=data) if role.is_system else _role_form(data)
    try:
        version = int(form.version.data or 0)
    except ValueError:
        version = 0
    if not form.validate():
        return await _role_page(role, form, status=422)
    try:
        if role.is_system:
            await service.update_role(session, g.ctx, role.id, version=version, max_holders=form.max_holders.data)
        else:
            await service.update_role(
                session,
                g.ctx,
                role.id,
                version=version,
                name=form.name.data,
                description=form.description.data or "",
                permissions=form.permissions.data,
                max_holders=form.max_holders.data,
                break_glass=form.break_glass.data,
            )
    except Conflict as exc:
        current = exc.details.get("current")
        if current is None:
            show_errors(form, exc)
            return await _role_page(role, form, status=409, error=exc.message)
        form.version.data = str(current["version"])  # saving again now overwrites deliberately
        labels = {"name": "Name", "description": "Description", "permissions": "Permissions"}
        labels |= {"max_holders": "Holder limit", "break_glass": "Break-glass role"}
        conflict = differences(current, {k: v for k, v in form.data.items() if k in labels}, labels)
        return await _role_page(role, form, status=409, conflict=conflict)
    except ValidationError as exc:
        show_errors(form, exc)
        return await _role_page(role, form, status=422)
    if is_htmx():
        await session.refresh(role)
        return toast(await _role_page(role, _filled_form(role), status=200), f"{role.name} saved.")
    await flash("Role saved.", "success")
    return redirect(url_for("iam.role_detail", role_id=role.id), 303)


async def _role_page(role, form, *, status: int, conflict: list | None = None, error: str | None = None):
    session = db_session()
    row = next(r for r in await queries.list_roles(session, g.ctx.org_id) if r.id == role.id)
    members = [m for m in await org_queries.list_members(session, g.ctx.org_id) if m.role_id == role.id]
    assignments = await queries.list_assignments(session, g.ctx.org_id, role_id=role.id)
    return await render(
        "iam/role_detail.html",
        "iam/_role_edit.html",
        role=row,
        form=form,
        members=members,
        assignments=assignments,
        descriptions=PERMISSION_DESCRIPTIONS,
        conflict=conflict,
        error=error,
        status=status,
    )


@bp.post("/roles/<uuid:role_id>/delete")
@requires(Perm.ROLES_WRITE)
async def delete_role(role_id: uuid.UUID):
    """Delete a custom role nobody holds."""
    role = await service.delete_role(db_session(), g.ctx, role_id)
    await flash(f"Role “{role.name}” deleted.", "success")
    return redirect(url_for("iam.roles"), 303)


async def _assignment_form(session, formdata=None) -> AssignmentForm:
    form = AssignmentForm(formdata=formdata)
    members = await org_queries.list_members(session, g.ctx.org_id)
    form.user_id.choices = choices((m.user_id, f"{m.name} ({m.email})") for m in members)
    form.role_id.choices = choices(
        (r.id, r.name)
        for r in await queries.list_roles(session, g.ctx.org_id)
        if not r.break_glass and r.key != "owner" and r.permissions <= g.ctx.permissions
    )
    form.mission_id.choices = choices(
        [("", "The whole organization")]
        + [(mission_id, f"Mission: {name}") for mission_id, name in await mission_names(session, g.ctx.org_id)]
    )
    return form


@bp.get("/roles/assignments")
@requires(Perm.ROLES_READ)
async def assignments():
    """Extra roles held by members, with expiry; grant and revoke."""
    session = db_session()
    rows = await queries.list_assignments(session, g.ctx.org_id)
    return await render("iam/assignments.html", assignments=rows, form=await _assignment_form(session))


@bp.post("/roles/assignments")
@requires(Perm.ROLES_WRITE)
async def create_assignment():
    """Grant an extra role."""
    session = db_session()
    form = await _assignment_form(session, await request.form)
    if form.validate():
        expires = form.expires_at.data.replace(tzinfo=UTC) if form.expires_at.data else None
        try:
            await service.assign_role(
                session,
                g.ctx,
                user_id=require_id(form.user_id.data, "user_id"),
                role_id=require_id(form.role_id.data, "role_id"),
                expires_at=expires,
                mission_id=require_id(form.mission_id.data, "mission_id") if form.mission_id.data else None,
                reason=form.reason.data or "",
            )
        except (ValidationError, Conflict) as exc:
            show_errors(form, exc)
            if not exc.details.get("fields"):
                form.role_id.errors = [exc.message]
        else:
            await flash("Role granted.", "success")
            return redirect(url_for("iam.assignments"), 303)
    rows = await queries.list_assignments(session, g.ctx.org_id)
    return await render("iam/assignments.html", assignments=rows, form=form, status=422)


@bp.post("/roles/assignments/<uuid:assignment_id>/revoke")
@requires(Perm.ROLES_WRITE)
async def revoke_assignment(assignment_id: uuid.UUID):
    """End an extra role now."""
    await service.revoke_assignment(db_session(), g.ctx, assignment_id)
    await flash("Role assignment ended.", "success")
    return redirect(url_for("iam.assignments"), 303)


# ---------------------------------------------------------------- break-glass


async def _break_glass_page(form: BreakGlassRequestForm | None = None, status: int = 200):
    session = db_session()
    roles = [r for r in await queries.list_roles(session, g.ctx.org_id) if r.break_glass]
    form = form or BreakGlassRequestForm()
    form.role_id.choices = choices((r.id, r.name) for r in roles)
    see_all = g.ctx.can(Perm.BREAKGLASS_APPROVE) or g.ctx.can(Perm.SECURITY_READ)
    rows = await breakglass.list_activations(session, g.ctx.org_id, user_id=None if see_all else g.ctx.user_id)
    return await render(
        "iam/break_glass.html",
        roles=roles,
        form=form,
        activations=rows,
        review_form=ReviewForm(),
        see_all=see_all,
        status=status,
    )


@bp.get("/break-glass")
@requires(Perm.ORG_READ)
async def break_glass():
    """Request emergency access; approvers see requests to approve and used access to review."""
    return await _break_glass_page()


@bp.post("/break-glass")
@requires(Perm.ORG_READ)
async def request_break_glass():
    """Ask for a break-glass role with a reason."""
    form = BreakGlassRequestForm(formdata=await request.form)
    if form.validate():
        try:
            await breakglass.request_activation(
                db_session(),
                g.ctx,
                role_id=require_id(form.role_id.data, "role_id"),
                reason=form.reason.data,
                minutes=form.minutes.data,
                base_url=current_app.extensions["closedloop"]["settings"].base_url,
            )
        except ValidationError as exc:
            show_errors(form, exc)
        else:
            await flash("Request sent. A second member must approve it before the access starts.", "success")
            return redirect(url_for("iam.break_glass"), 303)
    return await _break_glass_page(form, status=422)


@bp.post("/break-glass/<uuid:activation_id>/<any(approve, deny, end):action>")
@requires(Perm.ORG_READ)
async def decide_break_glass(activation_id: uuid.UUID, action: str):
    """Approve or deny (a second member), or end early / withdraw."""
    verbs = {"approve": breakglass.approve, "deny": breakglass.deny, "end": breakglass.end}
    await verbs[action](db_session(), g.ctx, activation_id)
    done = {
        "approve": "Approved: the access is active now and ends by itself.",
        "deny": "Request denied.",
        "end": "Break-glass access ended.",
    }
    await flash(done[action], "success")
    return redirect(url_for("iam.break_glass"), 303)


@bp.post("/break-glass/<uuid:activation_id>/review")
@requires(Perm.BREAKGLASS_APPROVE)
async def review_break_glass(activation_id: uuid.UUID):
    """Record the post-use review."""
    form = ReviewForm(formdata=await request.form)
    await breakglass.review(db_session(), g.ctx, activation_id, form.notes.data or "")
    await flash("Review recorded.", "success")
    return redirect(url_for("iam.break_glass"), 303)
