"""Writes for roles and role assignments: no one grants what they do not hold, caps hold under concurrency."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core import audit
from webapp.core.errors import Conflict, Forbidden, NotFound, ValidationError
from webapp.core.ids import new_id
from webapp.core.permissions import Perm
from webapp.core.tenancy import RequestContext
from webapp.iam import queries
from webapp.iam.catalog import SYSTEM_ROLES, role_permissions, unknown_permissions
from webapp.iam.models import Role, RoleAssignment

NAME_MAX, DESCRIPTION_MAX, REASON_MAX = 80, 300, 500


def role_key_from_name(name: str) -> str:
    """A stable key for a custom role: lower-case words joined by underscores."""
    key = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if len(key) < 2 or not key[0].isalpha():  # keys are 2-48 characters starting with a letter
        key = f"role_{key}".rstrip("_")
    return key[:48]


async def create_system_roles(session: AsyncSession, ctx: RequestContext | None, org_id: uuid.UUID) -> dict[str, Role]:
    """Give a new organization every system role (their grants come from code)."""
    roles = {
        key: Role(
            id=new_id(),
            organization_id=org_id,
            key=key,
            name=spec.name,
            description=spec.description,
            is_system=True,
            permissions=[],
        )
        for key, spec in SYSTEM_ROLES.items()
    }
    session.add_all(roles.values())
    await session.flush()
    return roles


def ensure_can_grant(ctx: RequestContext | None, permissions: frozenset[str]) -> None:
    """Nobody hands out a permission they do not hold themselves (ctx None: system code)."""
    if ctx is None:
        return
    missing = sorted(permissions - ctx.permissions)
    if missing:
        raise Forbidden("You can only grant permissions you hold yourself.", {"missing": missing})


def _clean_permissions(permissions) -> list[str]:
    names = sorted({str(p).strip() for p in permissions or () if str(p).strip()})
    if not names:
        raise ValidationError.field("permissions", "Pick at least one permission.")
    unknown = unknown_permissions(names)
    if unknown:
        raise ValidationError.field("permissions", f"Unknown permission: {', '.join(unknown)}.")
    return names


def _clean_text(field: str, value: str | None, limit: int, *, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError.field(field, "This field is required.")
    if len(value) > limit:
        raise ValidationError.field(field, f"At most {limit} characters.")
    return value


def _clean_cap(max_holders) -> int | None:
    if max_holders in (None, ""):
        return None
    try:
        cap = int(max_holders)
    except (TypeError, ValueError):
        raise ValidationError.field("max_holders", "Enter a whole number, or leave empty for no limit.") from None
    if not 1 <= cap <= 100_000:
        raise ValidationError.field("max_holders", "Between 1 and 100,000, or empty for no limit.")
    return cap


def _snapshot(role: Role) -> dict:
    return {
        "key": role.key,
        "name": role.name,
        "description": role.description,
        "permissions": sorted(role_permissions(role.key, role.is_system, role.permissions)),
        "max_holders": role.max_holders,
        "break_glass": role.break_glass,
    }


async def create_role(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    name: str,
    description: str = "",
    permissions=(),
    max_holders=None,
    break_glass: bool = False,
) -> Role:
    """A custom role of the current organization."""
    name = _clean_text("name", name, NAME_MAX, required=True)
    description = _clean_text("description", description, DESCRIPTION_MAX)
    names = _clean_permissions(permissions)
    cap = _clean_cap(max_holders)
    ensure_can_grant(ctx, frozenset(names))
    key = role_key_from_name(name)
    if key in SYSTEM_ROLES or await queries.find_role_by_key(session, ctx.org_id, key) is not None:
        raise Conflict("A role with this name already exists.", {"fields": {"name": ["Already taken."]}})
    role = Role(
        id=new_id(),
        organization_id=ctx.org_id,
        key=key,
        name=name,
        description=description,
        permissions=names,
        max_holders=cap,
        break_glass=bool(break_glass),
    )
    session.add(role)
    await session.flush()
    await audit.record(session, ctx, "role.create", entity_type="role", entity_id=role.id, after=_snapshot(role))
    return role


async def update_role(
    session: AsyncSession,
    ctx: RequestContext,
    role_id: uuid.UUID,
    *,
    version: int,
    name: str | None = None,
    description: str | None = None,
    permissions=None,
    max_holders=...,
    break_glass: bool | None = None,
) -> Role:
    """Edit a role at `version` (409 when someone changed it first); system roles only take a holder cap."""
    role = await queries.get_role(session, ctx.org_id, role_id, lock=True)
    if role.version != version:
        raise Conflict(details={"current": _snapshot(role) | {"version": role.version}})
    before = _snapshot(role)
    if role.is_system and (
        name is not None or description is not None or permissions is not None or break_glass is not None
    ):
        raise Forbidden("System roles are fixed; only their holder limit can change. Create a custom role instead.")
    if name is not None:
        role.name = _clean_text("name", name, NAME_MAX, required=True)
    if description is not None:
        role.description = _clean_text("description", description, DESCRIPTION_MAX)
    if permissions is not None:
        names = _clean_permissions(permissions)
        ensure_can_grant(ctx, frozenset(names) - frozenset(role.permissions))  # only what is added
        role.permissions = names
    if break_glass is not None:
        role.break_glass = bool(break_glass)
    if max_holders is not ...:
        cap = _clean_cap(max_holders)
        if cap is not None and cap < await queries.count_holders(session, ctx.org_id, role.id):
            raise Conflict(
                f"{cap} is fewer than the people holding this role now.",
                {"fields": {"max_holders": ["Lower than the current number of holders."]}},
            )
        role.max_holders = cap
    await session.flush()
    await audit.record(
        session, ctx, "role.update", entity_type="role", entity_id=role.id, before=before, after=_snapshot(role)
    )
    return role


async def delete_role(session: AsyncSession, ctx: RequestContext, role_id: uuid.UUID) -> Role:
    """Soft-delete a custom role nobody holds."""
    role = await queries.get_role(session, ctx.org_id, role_id, lock=True)
    if role.is_system:
        raise Forbidden("System roles cannot be deleted.")
    if await queries.count_holders(session, ctx.org_id, role.id):
        raise Conflict("People still hold this role. Give them another role first.")
    role.deleted_at = datetime.now(UTC)
    await session.flush()
    await audit.record(session, ctx, "role.delete", entity_type="role", entity_id=role.id, before=_snapshot(role))
    return role


async def check_cap(session: AsyncSession, org_id: uuid.UUID, role: Role, user_id: uuid.UUID) -> None:
    """Refuse one more holder when the role is full; the role row is locked, so two grants cannot both pass."""
    if role.max_holders is None:
        return
    await session.execute(select(Role.id).where(Role.id == role.id).with_for_update())
    held = await queries.count_holders(session, org_id, role.id, exclude_user=user_id)
    if held >= role.max_holders:
        raise Conflict(
            f"“{role.name}” may be held by at most {role.max_holders} "
            f"{'person' if role.max_holders == 1 else 'people'}.",
            {"role": role.key, "cap": role.max_holders},
        )


async def assign_role(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    user_id: uuid.UUID,
    role_id: uuid.UUID,
    expires_at: datetime | None = None,
    mission_id: uuid.UUID | None = None,
    reason: str = "",
) -> RoleAssignment:
    """Grant a member an extra role, optionally until `expires_at` and optionally for one mission."""
    from webapp.organizations.queries import get_live_membership

    membership = await get_live_membership(session, ctx.org_id, user_id)
    role = await queries.get_role(session, ctx.org_id, role_id)
    if role.break_glass:
        raise ValidationError(
            "Break-glass roles are not assigned: members request them with a reason and a second member approves.",
            {"fields": {"role_id": ["Break-glass role."]}},
        )
    reason = _clean_text("reason", reason, REASON_MAX)
    if mission_id is not None:
        from webapp.missions.queries import get_mission

        try:
            await get_mission(session, ctx.org_id, mission_id)
        except NotFound as exc:
            raise ValidationError.field("mission_id", "Choose one of this organization's missions.") from exc
    if expires_at is not None and expires_at.tzinfo is None:
        raise ValidationError.field("expires_at", "Give the time with its timezone, e.g. 2026-12-01T18:00:00Z.")
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise ValidationError.field("expires_at", "Pick a time in the future.")
    grants = role_permissions(role.key, role.is_system, role.permissions)
    ensure_can_grant(ctx, grants)
    if role.key == "owner":
        raise ValidationError("Ownership is a member's main role, changed on the members page.")
    existing = [
        a
        for a in await queries.list_assignments(session, ctx.org_id, user_id=user_id, role_id=role.id)
        if a.mission_id == mission_id
    ]
    if existing:
        raise Conflict("This member already holds this role here.", {"assignment_id": str(existing[0].id)})
    await check_cap(session, ctx.org_id, role, user_id)
    assignment = RoleAssignment(
        id=new_id(),
        organization_id=ctx.org_id,
        membership_id=membership.id,
        user_id=user_id,
        role_id=role.id,
        mission_id=mission_id,
        expires_at=expires_at,
        reason=reason,
        granted_by=ctx.user_id,
    )
    session.add(assignment)
    await session.flush()
    await audit.record(
        session,
        ctx,
        "role_assignment.create",
        entity_type="role_assignment",
        entity_id=assignment.id,
        after={
            "user_id": user_id,
            "role": role.key,
            "mission_id": mission_id,
            "expires_at": expires_at,
            "reason": reason,
        },
    )
    return assignment


async def revoke_assignment(session: AsyncSession, ctx: RequestContext, assignment_id: uuid.UUID) -> RoleAssignment:
    """End an assignment now."""
    assignment = await queries.get_assignment(session, ctx.org_id, assignment_id)
    role = await queries.get_role(session, ctx.org_id, assignment.role_id)
    ensure_can_grant(ctx, role_permissions(role.key, role.is_system, role.permissions))
    assignment.revoked_at = datetime.now(UTC)
    assignment.revoked_by = ctx.user_id
    await session.flush()
    await audit.record(
        session,
        ctx,
        "role_assignment.revoke",
        entity_type="role_assignment",
        entity_id=assignment.id,
        before={"user_id": assignment.user_id, "role": role.key, "mission_id": assignment.mission_id},
    )
    return assignment


async def revoke_member_assignments(session: AsyncSession, ctx: RequestContext, membership_id: uuid.UUID) -> int:
    """End every assignment of a membership (the member leaves)."""
    result = await session.execute(
        update(RoleAssignment)
        .where(RoleAssignment.membership_id == membership_id, RoleAssignment.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC), revoked_by=ctx.user_id)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def can_manage_owners(ctx: RequestContext) -> bool:
    """Only someone who may delete the organization makes or unmakes its owners."""
    return ctx.can(Perm.ORG_DELETE)
