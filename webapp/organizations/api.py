"""JSON API: members and invitations of an organization."""

from __future__ import annotations

import uuid

from quart import Blueprint, current_app, g, url_for
from quart_schema import document_request

from webapp.core.errors import NotFound
from webapp.core.forms import parse_body, parse_query
from webapp.core.openapi import Items, query, raises, returns
from webapp.core.permissions import Perm, refuse_api_keys, requires
from webapp.core.transaction import db_session
from webapp.organizations import queries, service
from webapp.organizations.schemas import (
    InvitationIn,
    InvitationOut,
    MemberOut,
    MemberPatch,
    OrganizationIn,
    OrganizationListed,
    OrganizationOut,
    OrganizationPatch,
    OrganizationsQuery,
)
from webapp.settings import queries as settings_queries

bp = Blueprint("organizations_api", __name__, url_prefix="/api/v1/organizations/<org:org_id>")
orgs_bp = Blueprint("orgs_api", __name__, url_prefix="/api/v1/organizations")


async def org_out(org, role: str | None = None) -> dict:
    """Organization -> response JSON (its two-factor rule read from the settings registry)."""
    require_mfa = await settings_queries.value_of(db_session(), "security.require_mfa", org_id=org.id)
    return OrganizationOut(
        id=org.id,
        slug=org.slug,
        name=org.name,
        status=org.status,
        require_mfa=require_mfa,
        created_at=org.created_at,
        version=org.version,
        role=role,
    ).model_dump(mode="json")


@orgs_bp.get("")
@requires()
@query(OrganizationsQuery)
@returns(Items[OrganizationListed])
@raises(404)  # scope=all for anyone but platform staff: as if the option did not exist
async def list_organizations():
    """The caller's organizations; platform staff add `?scope=all` for every organization (audited)."""
    args = parse_query(OrganizationsQuery)
    if args.scope == "all":
        from webapp.admin.views import list_every_organization, staff_only

        staff_only()
        rows = await list_every_organization(status=args.status, q=args.q)
        items = [
            OrganizationListed(
                id=r.id,
                slug=r.slug,
                name=r.name,
                status=r.status,
                require_mfa=r.require_mfa,
                members=r.members,
                created_at=r.created_at,
            )
            for r in rows
        ]
        return {"items": [i.model_dump(mode="json", exclude={"role"}) for i in items]}
    memberships = await queries.list_memberships(db_session(), g.ctx.user_id)
    if g.ctx.bound_org_id is not None:  # a key or token sees the organization it is bound to
        memberships = [m for m in memberships if m.org_id == g.ctx.bound_org_id]
    items = [
        OrganizationListed(
            id=m.org_id, slug=m.slug, name=m.name, status=m.status, require_mfa=m.require_mfa, role=m.role
        )
        for m in memberships
    ]
    return {"items": [i.model_dump(mode="json", exclude={"members", "created_at"}) for i in items]}


@orgs_bp.post("")
@requires()
@document_request(OrganizationIn)
@returns(OrganizationOut, 201, creates="organizations_api.get_organization")
@raises(409)
async def create_organization():
    """Create an organization owned by the caller: 201 + Location (API keys may not)."""
    refuse_api_keys()
    data = await parse_body(OrganizationIn)
    session = db_session()
    org = await service.create_organization_for(
        session, g.ctx, name=data.name, slug=data.slug or service.suggest_slug(data.name)
    )
    location = url_for("organizations_api.get_organization", org_id=org.id)
    return (await org_out(org, role="owner")), 201, {"Location": location}


@orgs_bp.post("/<uuid:target_id>/restore")
@requires()
@returns(OrganizationOut)
@raises(409)
async def restore_organization(target_id: uuid.UUID):
    """Restore a deleted organization (its owners only; 404 otherwise, 409 when its address was taken)."""
    refuse_api_keys()
    org = await service.restore_organization(db_session(), g.ctx, target_id)
    return await org_out(org)


def member_out(row: queries.MemberRow) -> MemberOut:
    """MemberRow -> response schema."""
    return MemberOut(
        user_id=row.user_id,
        name=row.name,
        email=row.email,
        role_id=row.role_id,
        role=row.role,
        role_name=row.role_name,
        mfa_enabled=row.mfa_enabled,
        joined_at=row.joined_at,
        version=row.version,
    )


def member_json(row: queries.MemberRow) -> dict:
    """MemberRow -> the JSON of member_out(row), built directly (a list builds one per member)."""
    joined = row.joined_at.isoformat()
    return {
        "user_id": str(row.user_id),
        "name": row.name,
        "email": row.email,
        "role_id": str(row.role_id),
        "role": row.role,
        "role_name": row.role_name,
        "mfa_enabled": row.mfa_enabled,
        "joined_at": joined[:-6] + "Z" if joined.endswith("+00:00") else joined,
        "version": row.version,
    }


def invitation_out(row: dict) -> InvitationOut:
    """Invitation listing row -> response schema."""
    return InvitationOut(**row)


@bp.get("")
@requires(Perm.ORG_READ)
@returns(OrganizationOut)
async def get_organization(org_id: uuid.UUID | str):
    """One organization the caller belongs to."""
    return await org_out(await queries.get_organization(db_session(), g.ctx.org_id), role=g.ctx.role)


@bp.patch("")
@requires(Perm.ORG_WRITE)
@document_request(OrganizationPatch)
@returns(OrganizationOut)
@raises(409)
async def update_organization(org_id: uuid.UUID | str):
    """Edit name, slug, require_mfa, status (active/archived); 409 with `details.current` on a stale `version`."""
    data = await parse_body(OrganizationPatch)
    org = await service.update_organization(
        db_session(),
        g.ctx,
        name=data.name,
        slug=data.slug,
        require_mfa=data.require_mfa,
        status=data.status,
        version=data.version,
    )
    return await org_out(org, role=g.ctx.role)


@bp.delete("")
@requires(Perm.ORG_DELETE)
@returns(None, 204)
async def delete_organization(org_id: uuid.UUID | str):
    """Soft-delete: 204; owners restore it with POST /organizations/:id/restore."""
    await service.delete_organization(db_session(), g.ctx)
    return "", 204


@bp.get("/members")
@requires(Perm.MEMBERS_READ)
@returns(Items[MemberOut])
async def list_members(org_id: uuid.UUID | str):
    """Members by name."""
    rows = await queries.list_members(db_session(), g.ctx.org_id)
    return {"items": [member_json(r) for r in rows]}


@bp.get("/members/<uuid:user_id>")
@requires(Perm.MEMBERS_READ)
@returns(MemberOut)
async def get_member(org_id: uuid.UUID | str, user_id: uuid.UUID):
    """One member."""
    return member_out(await queries.get_member(db_session(), g.ctx.org_id, user_id)).model_dump(mode="json")


@bp.patch("/members/<uuid:user_id>")
@requires(Perm.MEMBERS_WRITE)
@document_request(MemberPatch)
@returns(MemberOut)
@raises(409)
async def update_member(org_id: uuid.UUID | str, user_id: uuid.UUID):
    """Change a member's main role (409 with the current role when `version` is stale)."""
    data = await parse_body(MemberPatch)
    await service.change_member_role(db_session(), g.ctx, user_id, role_id=data.role_id, version=data.version)
    return member_out(await queries.get_member(db_session(), g.ctx.org_id, user_id)).model_dump(mode="json")


@bp.delete("/members/<uuid:user_id>")
@requires(Perm.MEMBERS_WRITE)
@returns(None, 204)
@raises(409)
async def delete_member(org_id: uuid.UUID | str, user_id: uuid.UUID):
    """Remove a member: 204."""
    await service.remove_member(db_session(), g.ctx, user_id)
    return "", 204


@bp.post("/members")
@bp.post("/invitations")
@requires(Perm.MEMBERS_INVITE)
@document_request(InvitationIn)
@returns(InvitationOut, 201, creates="organizations_api.get_invitation")
@raises(409)
async def invite(org_id: uuid.UUID | str):
    """Invite someone by email: 201 with the pending invitation (they join when they accept)."""
    data = await parse_body(InvitationIn)
    invitation = await service.invite_member(
        db_session(),
        g.ctx,
        email=data.email,
        role_id=data.role_id,
        base_url=current_app.extensions["closedloop"]["settings"].base_url,
    )
    [row] = await queries.list_invitations(db_session(), g.ctx.org_id, invitation_id=invitation.id)
    return (
        invitation_out(row).model_dump(mode="json"),
        201,
        {"Location": url_for("organizations_api.get_invitation", org_id=g.ctx.org_id, invitation_id=invitation.id)},
    )


@bp.get("/invitations/<uuid:invitation_id>")
@requires(Perm.MEMBERS_READ)
@returns(InvitationOut)
async def get_invitation(org_id: uuid.UUID | str, invitation_id: uuid.UUID):
    """One pending invitation."""
    rows = await queries.list_invitations(db_session(), g.ctx.org_id, invitation_id=invitation_id)
    if not rows:
        raise NotFound("No such pending invitation.")
    return invitation_out(rows[0]).model_dump(mode="json")


@bp.get("/invitations")
@requires(Perm.MEMBERS_READ)
@returns(Items[InvitationOut])
async def list_invitations(org_id: uuid.UUID | str):
    """Pending invitations, newest first."""
    rows = await queries.list_invitations(db_session(), g.ctx.org_id)
    return {"items": [invitation_out(r).model_dump(mode="json") for r in rows]}


@bp.post("/invitations/<uuid:invitation_id>/resend")
@requires(Perm.MEMBERS_INVITE)
@returns(None, 204)
@raises(409, 429)
async def resend(org_id: uuid.UUID | str, invitation_id: uuid.UUID):
    """Send a fresh link (the old one stops working): 204."""
    await service.resend_invitation(
        db_session(), g.ctx, invitation_id, base_url=current_app.extensions["closedloop"]["settings"].base_url
    )
    return "", 204


@bp.delete("/invitations/<uuid:invitation_id>")
@requires(Perm.MEMBERS_INVITE)
@returns(None, 204)
@raises(409)
async def revoke(org_id: uuid.UUID | str, invitation_id: uuid.UUID):
    """Revoke a pending invitation: 204."""
    await service.revoke_invitation(db_session(), g.ctx, invitation_id)
    return "", 204
