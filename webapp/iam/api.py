"""JSON API: the permission catalog, an organization's roles and role assignments."""

from __future__ import annotations

import uuid

from quart import Blueprint, g, url_for
from quart_schema import document_request

from webapp.core.forms import parse_body
from webapp.core.openapi import Items, raises, returns
from webapp.core.permissions import Perm, requires
from webapp.core.transaction import db_session
from webapp.iam import queries, service
from webapp.iam.catalog import PERMISSION_DESCRIPTIONS
from webapp.iam.schemas import (
    AssignmentIn,
    AssignmentOut,
    PermissionOut,
    RoleIn,
    RoleOut,
    RolePatch,
)

bp = Blueprint("iam_api", __name__, url_prefix="/api/v1")
ORG = "/organizations/<org:org_id>"


def role_out(row: queries.RoleRow) -> RoleOut:
    """RoleRow -> response schema."""
    return RoleOut(
        id=row.id,
        key=row.key,
        name=row.name,
        description=row.description,
        is_system=row.is_system,
        break_glass=row.break_glass,
        permissions=sorted(row.permissions),
        max_holders=row.max_holders,
        holders=row.holders,
        version=row.version,
    )


async def _role_row(role_id: uuid.UUID) -> RoleOut:
    session = db_session()
    role = await queries.get_role(session, g.ctx.org_id, role_id)
    return role_out(next(r for r in await queries.list_roles(session, g.ctx.org_id) if r.id == role.id))


@bp.get("/permissions")
@requires()
@returns(Items[PermissionOut])
async def permissions():
    """The permission catalog."""
    return {
        "items": [
            PermissionOut(name=p, description=d).model_dump(mode="json") for p, d in PERMISSION_DESCRIPTIONS.items()
        ]
    }


@bp.get(f"{ORG}/roles")
@requires(Perm.ROLES_READ)
@returns(Items[RoleOut])
async def list_roles(org_id: uuid.UUID | str):
    """Every role of the organization with what it grants."""
    rows = await queries.list_roles(db_session(), g.ctx.org_id)
    return {"items": [role_out(r).model_dump(mode="json") for r in rows]}


@bp.post(f"{ORG}/roles")
@requires(Perm.ROLES_WRITE)
@document_request(RoleIn)
@returns(RoleOut, 201, creates="iam_api.get_role")
@raises(409)
async def create_role(org_id: uuid.UUID | str):
    """Create a custom role: 201 with Location."""
    data = await parse_body(RoleIn)
    role = await service.create_role(
        db_session(),
        g.ctx,
        name=data.name,
        description=data.description,
        permissions=data.permissions,
        max_holders=data.max_holders,
        break_glass=data.break_glass,
    )
    body = (await _role_row(role.id)).model_dump(mode="json")
    return body, 201, {"Location": url_for("iam_api.get_role", org_id=g.ctx.org_id, role_id=role.id)}


@bp.get(f"{ORG}/roles/<uuid:role_id>")
@requires(Perm.ROLES_READ)
@returns(RoleOut)
async def get_role(org_id: uuid.UUID | str, role_id: uuid.UUID):
    """One role."""
    return (await _role_row(role_id)).model_dump(mode="json")


@bp.patch(f"{ORG}/roles/<uuid:role_id>")
@requires(Perm.ROLES_WRITE)
@document_request(RolePatch)
@returns(RoleOut)
@raises(409)
async def update_role(org_id: uuid.UUID | str, role_id: uuid.UUID):
    """Change a role at `version` (409 with the current version when stale)."""
    data = await parse_body(RolePatch)
    given = data.model_fields_set
    await service.update_role(
        db_session(),
        g.ctx,
        role_id,
        version=data.version,
        name=data.name,
        description=data.description,
        permissions=data.permissions,
        break_glass=data.break_glass,
        max_holders=data.max_holders if "max_holders" in given else ...,
    )
    return (await _role_row(role_id)).model_dump(mode="json")


@bp.delete(f"{ORG}/roles/<uuid:role_id>")
@requires(Perm.ROLES_WRITE)
@returns(None, 204)
@raises(409)
async def delete_role(org_id: uuid.UUID | str, role_id: uuid.UUID):
    """Delete a custom role nobody holds: 204."""
    await service.delete_role(db_session(), g.ctx, role_id)
    return "", 204


def assignment_out(row: queries.AssignmentRow) -> AssignmentOut:
    """AssignmentRow -> response schema."""
    return AssignmentOut(
        id=row.id,
        user_id=row.user_id,
        user_name=row.user_name,
        role_id=row.role_id,
        role_name=row.role_name,
        mission_id=row.mission_id,
        expires_at=row.expires_at,
        reason=row.reason,
        created_at=row.created_at,
    )


@bp.get(f"{ORG}/assignments")
@requires(Perm.ROLES_READ)
@returns(Items[AssignmentOut])
async def list_assignments(org_id: uuid.UUID | str):
    """Live role assignments, newest first."""
    rows = await queries.list_assignments(db_session(), g.ctx.org_id)
    return {"items": [assignment_out(r).model_dump(mode="json") for r in rows]}


@bp.post(f"{ORG}/assignments")
@requires(Perm.ROLES_WRITE)
@document_request(AssignmentIn)
@returns(AssignmentOut, 201, creates="iam_api.get_assignment")
@raises(409)
async def create_assignment(org_id: uuid.UUID | str):
    """Grant an extra role: 201 with the assignment."""
    data = await parse_body(AssignmentIn)
    assignment = await service.assign_role(
        db_session(),
        g.ctx,
        user_id=data.user_id,
        role_id=data.role_id,
        expires_at=data.expires_at,
        reason=data.reason,
        mission_id=data.mission_id,
    )
    row = await queries.get_assignment_row(db_session(), g.ctx.org_id, assignment.id)
    return (
        assignment_out(row).model_dump(mode="json"),
        201,
        {"Location": url_for("iam_api.get_assignment", org_id=g.ctx.org_id, assignment_id=assignment.id)},
    )


@bp.get(f"{ORG}/assignments/<uuid:assignment_id>")
@requires(Perm.ROLES_READ)
@returns(AssignmentOut)
async def get_assignment(org_id: uuid.UUID | str, assignment_id: uuid.UUID):
    """One live role assignment."""
    return assignment_out(await queries.get_assignment_row(db_session(), g.ctx.org_id, assignment_id)).model_dump(
        mode="json"
    )


@bp.delete(f"{ORG}/assignments/<uuid:assignment_id>")
@requires(Perm.ROLES_WRITE)
@returns(None, 204)
async def delete_assignment(org_id: uuid.UUID | str, assignment_id: uuid.UUID):
    """End an assignment now: 204."""
    await service.revoke_assignment(db_session(), g.ctx, assignment_id)
    return "", 204
