"""Reads for organizations and memberships (always through RLS)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.db import fetch_rows
from webapp.core.tenancy import set_scope_column
from webapp.identity.models import User
from webapp.organizations.enums import OrgStatus
from webapp.organizations.models import Membership, Organization


@dataclass(frozen=True)
class OrgMembership:
    """An organization as one member sees it."""

    org_id: uuid.UUID
    slug: str
    name: str
    status: OrgStatus
    role: str
    require_mfa: bool


def _membership_select():
    return (
        select(Organization.id, Organization.slug, Organization.name, Organization.status, Membership.role,
               Organization.require_mfa)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Organization.deleted_at.is_(None), Membership.deleted_at.is_(None))
    )


def _membership_filter(stmt, user_id, slug, org_id):
    stmt = stmt.where(Membership.user_id == user_id)
    return stmt.where(Organization.slug == slug) if slug is not None else stmt.where(Organization.id == org_id)


async def find_membership(
    session: AsyncSession, *, user_id: uuid.UUID, slug: str | None = None, org_id: uuid.UUID | None = None,
) -> OrgMembership | None:
    """The user's membership in the organization with this slug or id; None if missing or not a member."""
    row = (await session.execute(_membership_filter(_membership_select(), user_id, slug, org_id))).one_or_none()
    return OrgMembership(*row) if row else None


# built once per lookup key: this runs on every organization page
_ENTER_BY = {
    key: _membership_select()
    .add_columns(set_scope_column("org_id", Organization.id))
    .where(Membership.user_id == bindparam("user_id"), column == bindparam("key"))
    for key, column in (("slug", Organization.slug), ("org_id", Organization.id))
}


async def enter_membership(
    session: AsyncSession, *, user_id: uuid.UUID, slug: str | None = None, org_id: uuid.UUID | None = None,
) -> OrgMembership | None:
    """find_membership that also sets app.org_id to the found organization in the same round trip."""
    stmt, key = (_ENTER_BY["slug"], slug) if slug is not None else (_ENTER_BY["org_id"], org_id)
    row = (await fetch_rows(session, stmt, {"user_id": user_id, "key": key})).one_or_none()
    return OrgMembership(*row[:-1]) if row else None


async def list_memberships(session: AsyncSession, user_id: uuid.UUID) -> list[OrgMembership]:
    """Every organization the user belongs to, by name (the organization switcher)."""
    stmt = _membership_select().where(Membership.user_id == user_id).order_by(Organization.name)
    return [OrgMembership(*row) for row in (await session.execute(stmt)).all()]


async def find_org_by_slug(session: AsyncSession, slug: str) -> Organization | None:
    """A live organization by slug, if visible under the current RLS scope."""
    stmt = select(Organization).where(Organization.slug == slug, Organization.deleted_at.is_(None))
    return (await session.execute(stmt)).scalar_one_or_none()


@dataclass(frozen=True)
class MemberRow:
    """One line of the members table."""

    user_id: uuid.UUID
    name: str
    email: str
    role: str
    joined_at: object


async def list_members(session: AsyncSession, org_id: uuid.UUID) -> list[MemberRow]:
    """Members of the current organization, by name."""
    stmt = (
        select(User.id, User.name, User.email, Membership.role, Membership.created_at)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == org_id, Membership.deleted_at.is_(None), User.deleted_at.is_(None))
        .order_by(User.name)
    )
    return [MemberRow(*row) for row in (await session.execute(stmt)).all()]


@dataclass(frozen=True)
class ActivityRow:
    """One audit entry as shown on the organization home."""

    created_at: object
    action: str
    entity_type: str
    actor_name: str | None


async def list_recent_activity(session: AsyncSession, org_id: uuid.UUID, limit: int = 10) -> list[ActivityRow]:
    """The newest audit rows of the organization."""
    from webapp.core.audit import AuditLog

    stmt = (
        select(AuditLog.created_at, AuditLog.action, AuditLog.entity_type, User.name)
        .outerjoin(User, User.id == AuditLog.actor_user_id)
        .where(AuditLog.organization_id == org_id)
        .order_by(AuditLog.created_at.desc())
        .limit(limit)
    )
    return [ActivityRow(*row) for row in (await session.execute(stmt)).all()]
