"""Reads for roles, assignments and break-glass activations (always through RLS)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    and_,
    distinct,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.errors import NotFound
from webapp.iam.catalog import SYSTEM_ROLES, role_permissions
from webapp.iam.enums import BreakGlassStatus
from webapp.iam.models import BreakGlassActivation, Role, RoleAssignment


def _assignment_live():
    return and_(
        RoleAssignment.revoked_at.is_(None),
        or_(RoleAssignment.expires_at.is_(None), RoleAssignment.expires_at > func.now()),
    )


def grants_column(membership_id):
    """Correlated JSON array of [key, is_system, permissions, mission_id] for a membership's live assignments."""
    return (
        select(
            func.coalesce(
                func.json_agg(
                    func.json_build_array(Role.key, Role.is_system, Role.permissions, RoleAssignment.mission_id)
                ),
                literal_column("'[]'::json"),
            )
        )
        .select_from(RoleAssignment)
        .join(Role, Role.id == RoleAssignment.role_id)
        .where(RoleAssignment.membership_id == membership_id, _assignment_live(), Role.deleted_at.is_(None))
        .scalar_subquery()
    )


def break_glass_column(membership_id):
    """Correlated JSON [activation id, role key, permissions, expires_at] of the membership's active break-glass."""
    return (
        select(
            func.json_build_array(BreakGlassActivation.id, Role.key, Role.permissions, BreakGlassActivation.expires_at)
        )
        .select_from(BreakGlassActivation)
        .join(Role, Role.id == BreakGlassActivation.role_id)
        .where(
            BreakGlassActivation.membership_id == membership_id,
            BreakGlassActivation.status == BreakGlassStatus.APPROVED,
            BreakGlassActivation.expires_at > func.now(),
            Role.deleted_at.is_(None),
        )
        .order_by(BreakGlassActivation.expires_at.desc())
        .limit(1)
        .scalar_subquery()
    )


@dataclass(frozen=True)
class RoleRow:
    """A role with what it grants and how many hold it."""

    id: uuid.UUID
    key: str
    name: str
    description: str
    is_system: bool
    permissions: frozenset[str]
    max_holders: int | None
    break_glass: bool
    holders: int
    version: int


def holders_select(org_id: uuid.UUID):
    """(role_id, user_id) for every live holder: main role of a membership or a live assignment."""
    from webapp.organizations.queries import live_membership_roles

    assigned = select(RoleAssignment.role_id, RoleAssignment.user_id).where(
        RoleAssignment.organization_id == org_id,
        _assignment_live(),
    )
    return union_all(live_membership_roles(org_id), assigned).subquery()


async def list_roles(session: AsyncSession, org_id: uuid.UUID, *, with_holders: bool = True) -> list[RoleRow]:
    """Every live role of the organization: system roles first, then custom roles by name.

    `with_holders=False` skips counting holders (0 in the rows) for pages that only offer roles in a menu.
    """
    if with_holders:
        holders = holders_select(org_id)
        counts = (
            select(holders.c.role_id, func.count(distinct(holders.c.user_id)).label("n"))
            .group_by(holders.c.role_id)
            .subquery()
        )
        stmt = select(Role, func.coalesce(counts.c.n, 0)).outerjoin(counts, counts.c.role_id == Role.id)
    else:
        stmt = select(Role, literal(0))
    stmt = stmt.where(Role.organization_id == org_id, Role.deleted_at.is_(None))
    rows = (await session.execute(stmt)).all()
    result = [_role_row(role, n) for role, n in rows]
    order = {key: i for i, key in enumerate(SYSTEM_ROLES)}
    return sorted(result, key=lambda r: (not r.is_system, order.get(r.key, 99), r.name.lower()))


def _role_row(role: Role, holders: int) -> RoleRow:
    return RoleRow(
        role.id,
        role.key,
        role.name,
        role.description,
        role.is_system,
        role_permissions(role.key, role.is_system, role.permissions),
        role.max_holders,
        role.break_glass,
        holders,
        role.version,
    )


async def get_role(session: AsyncSession, org_id: uuid.UUID, role_id: uuid.UUID, *, lock: bool = False) -> Role:
    """A live role of the organization; NotFound otherwise (also for another organization's role)."""
    stmt = select(Role).where(Role.id == role_id, Role.organization_id == org_id, Role.deleted_at.is_(None))
    role = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if role is None:
        raise NotFound("No such role.")
    return role


async def find_role_by_key(session: AsyncSession, org_id: uuid.UUID, key: str) -> Role | None:
    """A live role by its key, or None."""
    stmt = select(Role).where(Role.organization_id == org_id, Role.key == key, Role.deleted_at.is_(None))
    return (await session.execute(stmt)).scalar_one_or_none()


async def count_holders(
    session: AsyncSession, org_id: uuid.UUID, role_id: uuid.UUID, exclude_user: uuid.UUID | None = None
) -> int:
    """Distinct people holding the role now (optionally not counting one user)."""
    holders = holders_select(org_id)
    stmt = select(func.count(distinct(holders.c.user_id))).where(holders.c.role_id == role_id)
    if exclude_user is not None:
        stmt = stmt.where(holders.c.user_id != exclude_user)
    return (await session.execute(stmt)).scalar_one()


@dataclass(frozen=True)
class AssignmentRow:
    """One live role assignment as the assignments table shows it."""

    id: uuid.UUID
    user_id: uuid.UUID
    user_name: str
    user_email: str
    role_id: uuid.UUID
    role_name: str
    mission_id: uuid.UUID | None
    expires_at: datetime | None
    reason: str
    created_at: datetime
    granted_by_name: str | None
    mission_name: str | None = None


async def list_assignments(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    user_id: uuid.UUID | None = None,
    role_id: uuid.UUID | None = None,
    assignment_id: uuid.UUID | None = None,
) -> list[AssignmentRow]:
    """Live assignments, newest first, optionally for one user, one role or one assignment."""
    from webapp.identity.queries import user_aliases
    from webapp.missions.models import Mission

    user, granter = user_aliases()
    stmt = (
        select(
            RoleAssignment.id,
            RoleAssignment.user_id,
            user.name,
            user.email,
            Role.id,
            Role.name,
            RoleAssignment.mission_id,
            RoleAssignment.expires_at,
            RoleAssignment.reason,
            RoleAssignment.created_at,
            granter.name,
            Mission.name,
        )
        .join(Role, Role.id == RoleAssignment.role_id)
        .outerjoin(Mission, Mission.id == RoleAssignment.mission_id)
        .join(user, user.id == RoleAssignment.user_id)
        .outerjoin(granter, granter.id == RoleAssignment.granted_by)
        .where(RoleAssignment.organization_id == org_id, _assignment_live())
        .order_by(RoleAssignment.created_at.desc())
    )
    if user_id is not None:
        stmt = stmt.where(RoleAssignment.user_id == user_id)
    if role_id is not None:
        stmt = stmt.where(RoleAssignment.role_id == role_id)
    if assignment_id is not None:
        stmt = stmt.where(RoleAssignment.id == assignment_id)
    return [AssignmentRow(*row) for row in (await session.execute(stmt)).all()]


async def get_assignment_row(session: AsyncSession, org_id: uuid.UUID, assignment_id: uuid.UUID) -> AssignmentRow:
    """One live assignment as the list shows it; NotFound otherwise."""
    rows = await list_assignments(session, org_id, assignment_id=assignment_id)
    if not rows:
        raise NotFound("No such role assignment.")
    return rows[0]


async def get_assignment(session: AsyncSession, org_id: uuid.UUID, assignment_id: uuid.UUID) -> RoleAssignment:
    """A live assignment of the organization; NotFound otherwise."""
    stmt = (
        select(RoleAssignment)
        .where(
            RoleAssignment.id == assignment_id,
            RoleAssignment.organization_id == org_id,
            RoleAssignment.revoked_at.is_(None),
        )
        .with_for_update()
    )
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound("No such role assignment.")
    return found
