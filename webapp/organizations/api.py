"""JSON API: members and invitations of an organization."""
from __future__ import annotations

import uuid

from quart import Blueprint, current_app, g, url_for
from quart_schema import validate_response

from webapp.core.forms import parse_body, require_id
from webapp.core.permissions import Perm, requires
from webapp.core.transaction import db_session
from webapp.organizations import queries, service
from webapp.organizations.schemas import InvitationIn, InvitationOut, MemberOut, MemberPatch

bp = Blueprint("organizations_api", __name__, url_prefix="/api/v1/organizations/<uuid:org_id>")


def member_out(row: queries.MemberRow) -> MemberOut:
    """MemberRow -> response schema."""
    return MemberOut(user_id=str(row.user_id), name=row.name, email=row.email, role_id=str(row.role_id), role=row.role,
                     role_name=row.role_name, mfa_enabled=row.mfa_enabled, joined_at=row.joined_at,
                     version=row.version)


def invitation_out(row: dict) -> InvitationOut:
    """Invitation listing row -> response schema."""
    return InvitationOut(**{**row, "id": str(row["id"])})


@bp.get("/members")
@requires(Perm.MEMBERS_READ)
async def list_members(org_id: uuid.UUID):
    """Members by name."""
    rows = await queries.list_members(db_session(), g.ctx.org_id)
    return {"items": [member_out(r).model_dump(mode="json") for r in rows]}


@bp.get("/members/<uuid:user_id>")
@requires(Perm.MEMBERS_READ)
@validate_response(MemberOut)
async def get_member(org_id: uuid.UUID, user_id: uuid.UUID):
    """One member."""
    return member_out(await queries.get_member(db_session(), g.ctx.org_id, user_id))


@bp.patch("/members/<uuid:user_id>")
@requires(Perm.MEMBERS_WRITE)
@validate_response(MemberOut)
async def update_member(org_id: uuid.UUID, user_id: uuid.UUID):
    """Change a member's main role (409 with the current role when `version` is stale)."""
    data = await parse_body(MemberPatch)
    await service.change_member_role(db_session(), g.ctx, user_id, role_id=require_id(data.role_id, "role_id"),
                                     version=data.version)
    return member_out(await queries.get_member(db_session(), g.ctx.org_id, user_id))


@bp.delete("/members/<uuid:user_id>")
@requires(Perm.MEMBERS_WRITE)
async def delete_member(org_id: uuid.UUID, user_id: uuid.UUID):
    """Remove a member: 204."""
    await service.remove_member(db_session(), g.ctx, user_id)
    return "", 204


@bp.post("/members")
@bp.post("/invitations")
@requires(Perm.MEMBERS_INVITE)
async def invite(org_id: uuid.UUID):
    """Invite someone by email: 201 with the pending invitation (they join when they accept)."""
    data = await parse_body(InvitationIn)
    invitation = await service.invite_member(db_session(), g.ctx, email=data.email,
                                             role_id=require_id(data.role_id, "role_id"),
                                             base_url=current_app.extensions["closedloop"]["settings"].base_url)
    [row] = await queries.list_invitations(db_session(), g.ctx.org_id, invitation_id=invitation.id)
    return invitation_out(row).model_dump(mode="json"), 201, {
        "Location": url_for("organizations_api.list_invitations", org_id=org_id)}


@bp.get("/invitations")
@requires(Perm.MEMBERS_READ)
async def list_invitations(org_id: uuid.UUID):
    """Pending invitations, newest first."""
    rows = await queries.list_invitations(db_session(), g.ctx.org_id)
    return {"items": [invitation_out(r).model_dump(mode="json") for r in rows]}


@bp.post("/invitations/<uuid:invitation_id>/resend")
@requires(Perm.MEMBERS_INVITE)
async def resend(org_id: uuid.UUID, invitation_id: uuid.UUID):
    """Send a fresh link (the old one stops working): 204."""
    await service.resend_invitation(db_session(), g.ctx, invitation_id,
                                    base_url=current_app.extensions["closedloop"]["settings"].base_url)
    return "", 204


@bp.delete("/invitations/<uuid:invitation_id>")
@requires(Perm.MEMBERS_INVITE)
async def revoke(org_id: uuid.UUID, invitation_id: uuid.UUID):
    """Revoke a pending invitation: 204."""
    await service.revoke_invitation(db_session(), g.ctx, invitation_id)
    return "", 204
