"""Organization home, the organization switcher, members and invitations."""
from __future__ import annotations

import uuid
from datetime import timedelta

from quart import Blueprint, current_app, flash, g, redirect, request, url_for
from quart_auth import AuthUser, login_user

from webapp.core.errors import Conflict, ValidationError
from webapp.core.forms import choices, raise_for_form, read_form, require_id, show_errors
from webapp.core.htmx import hx_trigger, is_htmx, render
from webapp.core.permissions import Perm, SystemRole, public, requires
from webapp.core.tenancy import scope_session
from webapp.core.transaction import db_session
from webapp.iam import queries as iam_queries
from webapp.iam import service as iam
from webapp.identity import service as identity_service
from webapp.identity.queries import find_user_by_email, get_user
from webapp.ops import queries as ops_queries
from webapp.organizations import queries, service
from webapp.organizations.forms import AcceptNewAccountForm, InviteForm, RoleChangeForm
from webapp.organizations.service import invitations

bp = Blueprint("organizations", __name__)


@bp.get("/orgs")
@requires()
async def switcher():
    """Every organization the signed-in user belongs to."""
    memberships = await queries.list_memberships(db_session(), g.ctx.user_id)
    return await render("organizations/switcher.html", memberships=memberships)


@bp.get("/o/<org_slug>/")
@requires(Perm.ORG_READ)
async def home():
    """Overview: members, the latest system checks, recent activity."""
    session = db_session()
    members = await queries.list_members(session, g.ctx.org_id)
    checks = await ops_queries.list_checks(session, g.ctx.org_id, limit=5)
    activity = await queries.list_recent_activity(session, g.ctx.org_id, limit=10) if g.ctx.can(Perm.AUDIT_READ) else None
    return await render("organizations/home.html", members=members, checks=checks.items, activity=activity)


# ---------------------------------------------------------------- members and invitations


def _settings():
    return current_app.extensions["closedloop"]["settings"]


async def _grantable_roles(session) -> list:
    """Roles the acting member may hand out as a main role (no escalation, owners by owners only)."""
    roles = await iam_queries.list_roles(session, g.ctx.org_id)
    return [r for r in roles if not r.break_glass and r.permissions <= g.ctx.permissions
            and (r.key != SystemRole.OWNER or iam.can_manage_owners(g.ctx))]


def _invite_form(roles, formdata=None) -> InviteForm:
    form = InviteForm(formdata=formdata)
    form.role_id.choices = choices((r.id, r.name) for r in roles)
    if not form.role_id.data:
        form.role_id.data = next((str(r.id) for r in roles if r.key == SystemRole.CREW_MEMBER), None)
    return form


async def _members_page(form: InviteForm | None = None, status: int = 200, error: str | None = None):
    session = db_session()
    roles = await _grantable_roles(session)
    members = await queries.list_members(session, g.ctx.org_id)
    invitations = await queries.list_invitations(session, g.ctx.org_id) if g.ctx.can(Perm.MEMBERS_READ) else []
    return await render("organizations/members.html", members=members, roles=roles, invitations=invitations,
                        form=form or _invite_form(roles), error=error, status=status)


@bp.get("/o/<org_slug>/members")
@requires(Perm.MEMBERS_READ)
async def members():
    """Members with their roles (changed inline), pending invitations, and the invite form."""
    return await _members_page()


async def _member_row(user_id: uuid.UUID, *, status: int = 200, conflict: dict | None = None):
    session = db_session()
    member = await queries.get_member(session, g.ctx.org_id, user_id)
    return await render("organizations/_member_row.html", member=member, roles=await _grantable_roles(session),
                        conflict=conflict, status=status)


@bp.post("/o/<org_slug>/members/<uuid:user_id>/role")
@requires(Perm.MEMBERS_WRITE)
async def change_role(user_id: uuid.UUID):
    """Give a member another main role; htmx swaps the row, a stale row shows the conflict in place."""
    form = await read_form(RoleChangeForm)
    if not form.validate():
        raise_for_form(form)
    try:
        await service.change_member_role(db_session(), g.ctx, user_id, role_id=require_id(form.role_id.data, "role_id"),
                                         version=form.version.data)
    except Conflict as exc:
        if "current" not in exc.details:
            raise
        if is_htmx():
            return await _member_row(user_id, status=409, conflict=exc.details["current"])
        await flash("Someone changed this member's role first; the page shows the current role.", "warning")
        return redirect(url_for("organizations.members"), 303)
    if is_htmx():
        response = await _member_row(user_id)
        return hx_trigger(response, "member-changed")
    await flash("Role changed.", "success")
    return redirect(url_for("organizations.members"), 303)


@bp.post("/o/<org_slug>/members/<uuid:user_id>/remove")
@requires(Perm.MEMBERS_WRITE)
async def remove(user_id: uuid.UUID):
    """Remove a member (their assignments and API keys end too)."""
    member = await queries.get_member(db_session(), g.ctx.org_id, user_id)
    await service.remove_member(db_session(), g.ctx, user_id)
    await flash(f"{member.name} was removed from {g.ctx.org_name}.", "success")
    if user_id == g.ctx.user_id:
        return redirect(url_for("organizations.switcher"), 303)
    return redirect(url_for("organizations.members"), 303)


@bp.post("/o/<org_slug>/members/invitations")
@requires(Perm.MEMBERS_INVITE)
async def invite():
    """Email an invitation with a role; the form comes back with errors when something is wrong."""
    session = db_session()
    form = _invite_form(await _grantable_roles(session), await request.form)
    if not form.validate():
        return await _members_page(form, status=422)
    try:
        await service.invite_member(session, g.ctx, email=form.email.data, role_id=require_id(form.role_id.data, "role_id"),
                                    base_url=_settings().base_url)
    except (ValidationError, Conflict) as exc:
        if not exc.details.get("fields"):
            raise
        show_errors(form, exc)
        return await _members_page(form, status=exc.status_code, error=exc.message)
    await flash(f"Invitation sent to {form.email.data}.", "success")
    return redirect(url_for("organizations.members"), 303)


@bp.post("/o/<org_slug>/members/invitations/<uuid:invitation_id>/resend")
@requires(Perm.MEMBERS_INVITE)
async def resend_invitation(invitation_id: uuid.UUID):
    """A fresh link and expiry; the previous link stops working."""
    invitation = await service.resend_invitation(db_session(), g.ctx, invitation_id, base_url=_settings().base_url)
    await flash(f"Invitation sent again to {invitation.email}.", "success")
    return redirect(url_for("organizations.members"), 303)


@bp.post("/o/<org_slug>/members/invitations/<uuid:invitation_id>/revoke")
@requires(Perm.MEMBERS_INVITE)
async def revoke_invitation(invitation_id: uuid.UUID):
    """The link stops working at once."""
    invitation = await service.revoke_invitation(db_session(), g.ctx, invitation_id)
    await flash(f"Invitation to {invitation.email} revoked.", "success")
    return redirect(url_for("organizations.members"), 303)


@bp.get("/invitations/accept")
@public
async def invitation():
    """What the emailed link opens: who invites you where, and how to accept."""
    token = request.args.get("token", "")
    session = db_session()
    _, view = await invitations.open_invitation(session, token)
    me = await get_user(session, g.ctx.user_id) if g.ctx.is_authenticated else None
    has_account = me is None and await find_user_by_email(session, view.email) is not None
    form = AcceptNewAccountForm(data={"token": token})
    await scope_session(session, user_id=g.ctx.user_id)  # leave the invitation's organization scope
    return await render("organizations/invitation.html", invitation=view, me=me, has_account=has_account, form=form,
                        token=token)


@bp.post("/invitations/accept")
@public
async def accept_invitation():
    """Join: as the signed-in user, or by creating the invited account (which starts verified)."""
    session = db_session()
    form = await read_form(AcceptNewAccountForm)
    if g.ctx.is_authenticated:
        me = await get_user(session, g.ctx.user_id)
        _, view = await invitations.accept_invitation(session, g.ctx, form.token.data or "", user=me)
    else:
        if not form.validate():
            _, view = await invitations.open_invitation(session, form.token.data or "")
            return await render("organizations/invitation.html", invitation=view, me=None, has_account=False,
                                form=form, token=form.token.data, status=422)
        try:
            me, view = await invitations.accept_invitation(session, g.ctx, form.token.data, name=form.name.data,
                                                           password=form.password.data)
        except ValidationError as exc:
            await session.rollback()
            _, view = await invitations.open_invitation(session, form.token.data)
            show_errors(form, exc)
            return await render("organizations/invitation.html", invitation=view, me=None, has_account=False,
                                form=form, token=form.token.data, status=422)
        token, _ = await identity_service.start_session(
            session, g.ctx, me, absolute=timedelta(hours=_settings().session_absolute_hours))
        login_user(AuthUser(token))
    await flash(f"Welcome to {view.org_name}.", "success")
    return redirect(url_for("organizations.home", org_slug=view.org_slug), 303)
