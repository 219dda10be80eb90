"""Organization home, the organization switcher, members and invitations."""

from __future__ import annotations

import uuid
from datetime import timedelta

from quart import Blueprint, current_app, flash, g, redirect, request, url_for
from quart_auth import AuthUser, login_user

from webapp.billing import entitlements, subscriptions
from webapp.collaboration import queries as comment_queries
from webapp.collaboration.attachments import storage_used
from webapp.collaboration.views import discussion_url
from webapp.core.conflicts import differences
from webapp.core.errors import Conflict, PaymentRequired, ValidationError
from webapp.core.forms import (
    choices,
    raise_for_form,
    read_form,
    require_id,
    rotate_csrf,
    show_errors,
)
from webapp.core.htmx import hx_trigger, is_htmx, render, toast
from webapp.core.permissions import Perm, SystemRole, public, requires
from webapp.core.tenancy import scope_session
from webapp.core.transaction import db_session
from webapp.iam import breakglass
from webapp.iam import queries as iam_queries
from webapp.iam import service as iam
from webapp.iam.catalog import role_permissions
from webapp.identity import service as identity_service
from webapp.identity.queries import find_user_by_email, get_user
from webapp.missions import queries as mission_queries
from webapp.ops import queries as ops_queries
from webapp.organizations import overview, queries, service
from webapp.organizations.activity import recent_activity
from webapp.organizations.enums import OrgStatus
from webapp.organizations.forms import (
    AcceptNewAccountForm,
    DeleteOrganizationForm,
    InviteForm,
    OrganizationForm,
    OrganizationSettingsForm,
    RoleChangeForm,
)
from webapp.organizations.service import invitations
from webapp.settings.views import organization_settings_context
from webapp.simulations import queries as run_queries

bp = Blueprint("organizations", __name__)


@bp.get("/orgs")
@requires()
async def switcher():
    """Every organization the signed-in user belongs to, and deleted ones they may restore."""
    session = db_session()
    memberships = await queries.list_memberships(session, g.ctx.user_id)
    deleted = [
        m
        for m in await queries.list_deleted_memberships(session, g.ctx.user_id)
        if Perm.ORG_DELETE in role_permissions(m.role, m.role_is_system, m.role_permissions)
    ]
    return await render(
        "organizations/switcher.html", "organizations/_org_menu.html", memberships=memberships, deleted=deleted
    )


@bp.get("/orgs/new")
@requires()
async def new_org():
    """Start another organization (you become its owner)."""
    return await render("organizations/new.html", form=OrganizationForm())


@bp.post("/orgs/new")
@requires()
async def create_org():
    """Create the organization with its system roles and make the caller its owner."""
    form = await read_form(OrganizationForm)
    if not form.validate():
        return await render("organizations/new.html", form=form, status=422)
    session = db_session()
    try:
        org = await service.create_organization_for(
            session, g.ctx, name=form.name.data, slug=form.slug.data or service.suggest_slug(form.name.data)
        )
    except (ValidationError, Conflict) as exc:
        show_errors(form, exc)
        return await render("organizations/new.html", form=form, status=exc.status_code)
    await flash(f"{org.name} is ready. Invite your crew from the Members page.", "success")
    return redirect(url_for("organizations.home", org_slug=org.slug), 303)


@bp.post("/orgs/<uuid:target_id>/restore")
@requires()
async def restore_org(target_id: uuid.UUID):
    """Bring back a deleted organization (its owners only)."""
    org = await service.restore_organization(db_session(), g.ctx, target_id)
    await flash(f"{org.name} is back.", "success")
    return redirect(url_for("organizations.home", org_slug=org.slug), 303)


def _settings_form(org, formdata=None) -> OrganizationSettingsForm:
    return OrganizationSettingsForm(
        formdata=formdata,
        data=None
        if formdata
        else {
            "version": org.version,
            "name": org.name,
            "slug": org.slug,
            "archived": org.status == OrgStatus.ARCHIVED,
        },
    )


async def _storage(org_id) -> dict:
    """Bytes the organization's files take, against its quota (the plan's limit arrives with billing)."""
    settings = _settings()
    return {
        "used": await storage_used(db_session(), org_id),
        "quota": settings.attachment_quota_bytes,
        "max_file": settings.attachment_max_bytes,
    }


async def _settings_page(org, *, form=None, status: int = 200, conflict=None, delete_form=None, fragment: bool = False):
    template = "organizations/_settings_form.html" if fragment else "organizations/settings.html"
    registry = {} if fragment else await organization_settings_context() | {"storage": await _storage(org.id)}
    return await render(
        template,
        **registry,
        org=org,
        form=form or _settings_form(org),
        conflict=conflict,
        delete_form=delete_form or DeleteOrganizationForm(),
        status=status,
    )


@bp.get("/o/<org_slug>/settings")
@requires(Perm.ORG_READ)
async def settings():
    """Name, address, archive, the organization's settings (two-factor rule, planning defaults); deletion for
    owners."""
    return await _settings_page(await queries.get_organization(db_session(), g.ctx.org_id))


@bp.post("/o/<org_slug>/settings")
@requires(Perm.ORG_WRITE)
async def update_settings():
    """Save the settings; htmx swaps the form, a stale one shows the saved values beside the typed ones."""
    session = db_session()
    org = await queries.get_organization(session, g.ctx.org_id)
    form = _settings_form(org, await request.form)
    status, conflict, saved = 200, None, False
    if not form.validate():
        status = 422
    else:
        try:
            org = await service.update_organization(
                session,
                g.ctx,
                name=form.name.data,
                slug=form.slug.data,
                status=OrgStatus.ARCHIVED if form.archived.data else OrgStatus.ACTIVE,
                version=int(form.version.data or 0) or None,
            )
            saved = True
        except Conflict as exc:
            if "current" not in exc.details:
                show_errors(form, exc)
                status = exc.status_code
            else:
                current = exc.details["current"]
                form.version.data = current["version"]
                typed = {
                    "name": form.name.data,
                    "slug": form.slug.data,
                    "status": "archived" if form.archived.data else "active",
                }
                labels = {"name": "Name", "slug": "Address", "status": "Status"}
                status, conflict = 409, differences(current, typed, labels)
        except ValidationError as exc:
            show_errors(form, exc)
            status = exc.status_code
    if saved and not is_htmx():
        await flash("Settings saved.", "success")
        return redirect(url_for("organizations.settings", org_slug=org.slug), 303)
    if saved and org.slug != g.ctx.org_slug:  # the page lives at the new address now
        response = await _settings_page(org, fragment=True)
        response.headers["HX-Redirect"] = url_for("organizations.settings", org_slug=org.slug)
        return response
    if saved:
        return toast(await _settings_page(org, fragment=True), "Settings saved.")
    return await _settings_page(org, form=form, status=status, conflict=conflict, fragment=is_htmx())


@bp.post("/o/<org_slug>/delete")
@requires(Perm.ORG_DELETE)
async def delete_org():
    """Soft-delete the organization; owners find it under Organizations to restore it."""
    session = db_session()
    org = await queries.get_organization(session, g.ctx.org_id)
    form = await read_form(DeleteOrganizationForm)
    try:
        if not form.validate():
            raise ValidationError.field("confirm", f"Type {org.slug} to confirm.")
        await service.delete_organization(session, g.ctx, confirm_slug=form.confirm.data)
    except ValidationError as exc:
        show_errors(form, exc)
        return await _settings_page(org, delete_form=form, status=422)
    await flash(f"{org.name} was deleted. Its owners can restore it from this page.", "info")
    return redirect(url_for("organizations.switcher"), 303)


@bp.get("/o/<org_slug>/")
@requires(Perm.ORG_READ)
async def home():
    """Overview: headline figures, missions, running and recent simulations, what waits for the viewer, activity,
    and a getting-started checklist until a new organization has done the basics."""
    session, ctx = db_session(), g.ctx
    figures = await overview.counts(session, ctx.org_id)
    steps = overview.getting_started(figures, ctx.can)
    context = {
        "figures": figures,
        "steps": steps if not all(step.done for step in steps) else None,
        "missions": await mission_queries.overview_missions(session, ctx.org_id)
        if ctx.can(Perm.MISSIONS_READ)
        else None,
        "runs": (await run_queries.list_org_runs(session, ctx.org_id, limit=6)).items
        if ctx.can(Perm.SIMULATIONS_READ)
        else None,
        "approvals": [
            a for a in await breakglass.list_activations(session, ctx.org_id, limit=20) if a.status == "pending"
        ]
        if ctx.can(Perm.BREAKGLASS_APPROVE)
        else [],
        "invitations": await queries.list_invitations(session, ctx.org_id) if ctx.can(Perm.MEMBERS_INVITE) else [],
        "activity": await recent_activity(session, ctx.org_id) if ctx.can(Perm.AUDIT_READ) else None,
        "discussion": await comment_queries.recent_discussion(session, ctx),
        "discussion_url": discussion_url,
        "checks": (await ops_queries.list_checks(session, ctx.org_id, limit=3)).items
        if ctx.can(Perm.OPS_READ)
        else None,
    }
    return await render("organizations/home.html", **context)


# ---------------------------------------------------------------- members and invitations


def _settings():
    return current_app.extensions["closedloop"]["settings"]


async def _grantable_roles(session) -> list:
    """Roles the acting member may hand out as a main role (no escalation, owners by owners only)."""
    roles = await iam_queries.list_roles(session, g.ctx.org_id, with_holders=False)
    return [
        r
        for r in roles
        if not r.break_glass
        and r.permissions <= g.ctx.permissions
        and (r.key != SystemRole.OWNER or iam.can_manage_owners(g.ctx))
    ]


def _invite_form(roles, formdata=None) -> InviteForm:
    form = InviteForm(formdata=formdata)
    form.role_id.choices = choices((r.id, r.name) for r in roles)
    if not form.role_id.data:
        form.role_id.data = next((str(r.id) for r in roles if r.key == SystemRole.CREW_MEMBER), None)
    return form


async def _members_page(
    form: InviteForm | None = None, status: int = 200, error: str | None = None, upgrade_url: str | None = None
):
    session = db_session()
    standing = await entitlements.standing(session, g.ctx.org_id)
    seats = await subscriptions.seat_use(session, g.ctx.org_id)
    roles = await _grantable_roles(session)
    members = await queries.list_members(session, g.ctx.org_id)
    invitations = await queries.list_invitations(session, g.ctx.org_id) if g.ctx.can(Perm.MEMBERS_READ) else []
    return await render(
        "organizations/members.html",
        members=members,
        roles=roles,
        invitations=invitations,
        form=form or _invite_form(roles),
        error=error,
        upgrade_url=upgrade_url,
        seats=seats,
        paid_seats=standing.subscription.seats,
        plan=standing.plan,
        status=status,
    )


@bp.get("/o/<org_slug>/members")
@requires(Perm.MEMBERS_READ)
async def members():
    """Members with their roles (changed inline), pending invitations, and the invite form."""
    return await _members_page()


async def _member_row(user_id: uuid.UUID, *, status: int = 200, conflict: dict | None = None):
    session = db_session()
    member = await queries.get_member(session, g.ctx.org_id, user_id)
    return await render(
        "organizations/_member_row.html",
        member=member,
        roles=await _grantable_roles(session),
        conflict=conflict,
        status=status,
    )


@bp.post("/o/<org_slug>/members/<uuid:user_id>/role")
@requires(Perm.MEMBERS_WRITE)
async def change_role(user_id: uuid.UUID):
    """Give a member another main role; htmx swaps the row, a stale row shows the conflict in place."""
    form = await read_form(RoleChangeForm)
    if not form.validate():
        raise_for_form(form)
    try:
        await service.change_member_role(
            db_session(), g.ctx, user_id, role_id=require_id(form.role_id.data, "role_id"), version=form.version.data
        )
    except Conflict as exc:
        if "current" not in exc.details:
            raise
        if is_htmx():
            return await _member_row(user_id, status=409, conflict=exc.details["current"])
        await flash("Someone changed this member's role first; the page shows the current role.", "error")
        return redirect(url_for("organizations.members"), 303)
    member = await queries.get_member(db_session(), g.ctx.org_id, user_id)
    if is_htmx():
        response = await _member_row(user_id)
        return toast(hx_trigger(response, "member-changed"), f"Saved: {member.name} is now {member.role_name}.")
    await flash(f"Saved: {member.name} is now {member.role_name}.", "success")
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
        await service.invite_member(
            session,
            g.ctx,
            email=form.email.data,
            role_id=require_id(form.role_id.data, "role_id"),
            base_url=_settings().base_url,
        )
    except PaymentRequired as exc:  # said next to the form, with the way out
        return await _members_page(form, status=402, error=exc.message, upgrade_url=exc.details["upgrade_url"])
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
    return await render(
        "organizations/invitation.html", invitation=view, me=me, has_account=has_account, form=form, token=token
    )


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
            return await render(
                "organizations/invitation.html",
                invitation=view,
                me=None,
                has_account=False,
                form=form,
                token=form.token.data,
                status=422,
            )
        try:
            me, view = await invitations.accept_invitation(
                session, g.ctx, form.token.data, name=form.name.data, password=form.password.data
            )
        except ValidationError as exc:
            await session.rollback()
            _, view = await invitations.open_invitation(session, form.token.data)
            show_errors(form, exc)
            return await render(
                "organizations/invitation.html",
                invitation=view,
                me=None,
                has_account=False,
                form=form,
                token=form.token.data,
                status=422,
            )
        token, _ = await identity_service.start_session(
            session, g.ctx, me, absolute=timedelta(hours=_settings().session_absolute_hours)
        )
        login_user(AuthUser(token))
        rotate_csrf()
    await flash(f"Welcome to {view.org_name}.", "success")
    return redirect(url_for("organizations.home", org_slug=view.org_slug), 303)
