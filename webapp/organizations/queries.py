"""Reads for organizations and memberships (always through RLS)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Integer, Numeric, bindparam, cast, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.billing.models import Subscription
from webapp.core.db import fetch_rows
from webapp.core.driver import Prepared, fetch_prepared
from webapp.core.errors import NotFound
from webapp.core.permissions import SystemRole
from webapp.core.tenancy import set_scope_column
from webapp.iam import queries as iam_queries
from webapp.iam.models import Role
from webapp.identity.enums import UserStatus
from webapp.identity.models import User
from webapp.organizations.enums import OrgStatus
from webapp.organizations.models import Invitation, Membership, Organization
from webapp.settings.columns import effective

# the organization's two-factor rule, a setting of the registry (webapp/settings/registry.py)
REQUIRE_MFA = effective("security.require_mfa", org_id=Organization.id)
# a payment overdue past the grace period (a platform setting) makes the organization read-only (webapp/billing)
BILLING_LOCKED = (
    select(Subscription.id)
    .where(
        Subscription.organization_id == Organization.id,
        Subscription.status == literal_column("'past_due'"),
        Subscription.past_due_since
        + func.make_interval(0, 0, 0, cast(cast(effective("billing.grace_days"), Numeric), Integer))
        <= func.now(),
    )
    .exists()
)


@dataclass(frozen=True)
class OrgMembership:
    """An organization as one member sees it: main role and its grants, extra assignments, active break-glass."""

    org_id: uuid.UUID
    slug: str
    name: str
    status: OrgStatus
    role: str
    require_mfa: bool
    role_name: str = ""
    role_is_system: bool = True
    role_permissions: tuple[str, ...] = ()
    membership_id: uuid.UUID | None = None
    billing_locked: bool = False
    grants: tuple = ()
    break_glass: tuple | None = None


def _membership_select(*, with_grants: bool = False):
    columns = [
        Organization.id,
        Organization.slug,
        Organization.name,
        Organization.status,
        Role.key,
        REQUIRE_MFA,
        Role.name,
        Role.is_system,
        Role.permissions,
        Membership.id,
        BILLING_LOCKED,
    ]
    if with_grants:
        columns += [iam_queries.grants_column(Membership.id), iam_queries.break_glass_column(Membership.id)]
    return (
        select(*columns)
        .join(Membership, Membership.organization_id == Organization.id)
        .join(Role, Role.id == Membership.role_id)
        .where(Organization.deleted_at.is_(None), Membership.deleted_at.is_(None))
    )


def live_membership_roles(org_id: uuid.UUID):
    """(role_id, user_id) of every live member's main role (iam counts holders with it)."""
    return select(Membership.role_id, Membership.user_id).where(
        Membership.organization_id == org_id,
        Membership.deleted_at.is_(None),
    )


async def get_live_membership(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False
) -> Membership:
    """The live membership of a user in the organization; NotFound otherwise."""
    stmt = select(Membership).where(
        Membership.organization_id == org_id, Membership.user_id == user_id, Membership.deleted_at.is_(None)
    )
    found = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound("No such member.")
    return found


async def find_live_membership(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> Membership | None:
    """The live membership of a user in the organization, or None."""
    try:
        return await get_live_membership(session, org_id, user_id)
    except NotFound:
        return None


def _membership_filter(stmt, user_id, slug, org_id):
    stmt = stmt.where(Membership.user_id == user_id)
    return stmt.where(Organization.slug == slug) if slug is not None else stmt.where(Organization.id == org_id)


async def find_membership(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    slug: str | None = None,
    org_id: uuid.UUID | None = None,
) -> OrgMembership | None:
    """The user's membership in the organization with this slug or id; None if missing or not a member."""
    row = (await session.execute(_membership_filter(_membership_select(), user_id, slug, org_id))).one_or_none()
    return OrgMembership(*row) if row else None


# built once per lookup key: this runs on every organization page
_ENTER_BY = {
    key: Prepared(
        _membership_select(with_grants=True)
        .add_columns(set_scope_column("org_id", Organization.id))
        .where(Membership.user_id == bindparam("user_id"), column == bindparam("key"))
    )
    for key, column in (("slug", Organization.slug), ("org_id", Organization.id))
}


async def enter_membership(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    slug: str | None = None,
    org_id: uuid.UUID | None = None,
) -> OrgMembership | None:
    """find_membership that also sets app.org_id to the found organization in the same round trip."""
    stmt, key = (_ENTER_BY["slug"], slug) if slug is not None else (_ENTER_BY["org_id"], org_id)
    rows = await fetch_prepared(session, stmt, {"user_id": user_id, "key": key})
    if not rows:
        return None
    *fields, grants, break_glass, _scope = rows[0]
    return OrgMembership(*fields, grants=tuple(grants or ()), break_glass=tuple(break_glass) if break_glass else None)


async def list_memberships(session: AsyncSession, user_id: uuid.UUID) -> list[OrgMembership]:
    """Every organization the user belongs to, by name (the organization switcher)."""
    stmt = _membership_select().where(Membership.user_id == user_id).order_by(Organization.name)
    return [OrgMembership(*row) for row in (await session.execute(stmt)).all()]


async def sole_owner_orgs(session: AsyncSession, user_id: uuid.UUID) -> list[OrgMembership]:
    """Organizations where the user is the only owner (leaving or deactivating would orphan them).

    Counting other owners needs each organization's scope in turn; the caller's scope is restored.
    """
    from webapp.core.tenancy import scope_session

    saved = session.info.get("org_id"), session.info.get("user_id")
    orphaned = []
    for membership in await list_memberships(session, user_id):
        if membership.role != SystemRole.OWNER:
            continue
        await scope_session(session, org_id=membership.org_id, user_id=user_id)
        owner = await iam_queries.find_role_by_key(session, membership.org_id, SystemRole.OWNER)
        if await iam_queries.count_holders(session, membership.org_id, owner.id, exclude_user=user_id) == 0:
            orphaned.append(membership)
    await scope_session(session, org_id=saved[0], user_id=saved[1])
    return orphaned


def _deleted_membership_select():
    return (
        select(
            Organization.id,
            Organization.slug,
            Organization.name,
            Organization.status,
            Role.key,
            REQUIRE_MFA,
            Role.name,
            Role.is_system,
            Role.permissions,
            Membership.id,
        )
        .join(Membership, Membership.organization_id == Organization.id)
        .join(Role, Role.id == Membership.role_id)
        .where(Organization.deleted_at.is_not(None), Membership.deleted_at.is_(None))
    )


async def list_deleted_memberships(session: AsyncSession, user_id: uuid.UUID) -> list[OrgMembership]:
    """Deleted organizations the user still belongs to (their owners may restore them)."""
    stmt = _deleted_membership_select().where(Membership.user_id == user_id).order_by(Organization.name)
    return [OrgMembership(*row) for row in (await session.execute(stmt)).all()]


async def find_deleted_membership(
    session: AsyncSession, *, user_id: uuid.UUID, org_id: uuid.UUID
) -> OrgMembership | None:
    """The user's membership in one deleted organization, or None."""
    stmt = _deleted_membership_select().where(Membership.user_id == user_id, Organization.id == org_id)
    row = (await session.execute(stmt)).one_or_none()
    return OrgMembership(*row) if row else None


async def get_organization(session: AsyncSession, org_id: uuid.UUID) -> Organization:
    """The live organization (visible under the current scope); NotFound otherwise."""
    stmt = select(Organization).where(Organization.id == org_id, Organization.deleted_at.is_(None))
    org = (await session.execute(stmt)).scalar_one_or_none()
    if org is None:
        raise NotFound("No such organization.")
    return org


@dataclass(frozen=True)
class PlatformOrgRow:
    """One organization as platform staff see it."""

    id: uuid.UUID
    slug: str
    name: str
    status: OrgStatus
    require_mfa: bool
    created_at: object
    deleted_at: object
    members: int


async def list_all_organizations(
    session: AsyncSession,
    *,
    status: str | None = None,
    q: str | None = None,
    include_deleted: bool = False,
    limit: int = 200,
) -> list[PlatformOrgRow]:
    """Every organization with its member count; only under the audited RLS bypass (platform admins)."""
    members = (
        select(func.count())
        .select_from(Membership)
        .where(Membership.organization_id == Organization.id, Membership.deleted_at.is_(None))
        .scalar_subquery()
    )
    stmt = select(
        Organization.id,
        Organization.slug,
        Organization.name,
        Organization.status,
        REQUIRE_MFA,
        Organization.created_at,
        Organization.deleted_at,
        members,
    )
    if not include_deleted:
        stmt = stmt.where(Organization.deleted_at.is_(None))
    if status:
        stmt = stmt.where(Organization.status == status)
    if q:
        pattern = f"%{q.strip().lower()[:100]}%"
        stmt = stmt.where(func.lower(Organization.name).like(pattern) | Organization.slug.like(pattern))
    stmt = stmt.order_by(Organization.name, Organization.id).limit(limit)
    return [PlatformOrgRow(*row) for row in (await session.execute(stmt)).all()]


async def live_organization_ids(session: AsyncSession) -> list[uuid.UUID]:
    """Every live organization's id (platform maintenance, under an explicit RLS bypass)."""
    stmt = select(Organization.id).where(Organization.deleted_at.is_(None)).order_by(Organization.id)
    return list((await session.execute(stmt)).scalars())


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
    role_id: uuid.UUID | None = None
    role_name: str = ""
    version: int = 1
    mfa_enabled: bool = False
    active: bool = True  # False once the person deactivated their account


def _members_select(org_id: uuid.UUID):
    return (
        select(  # labelled as MemberRow's fields: list rows are read by those names without a copy
            User.id.label("user_id"),
            User.name,
            User.email,
            Role.key.label("role"),
            Membership.created_at.label("joined_at"),
            Role.id.label("role_id"),
            Role.name.label("role_name"),
            Membership.version,
            User.mfa_enabled_at.is_not(None).label("mfa_enabled"),
            (User.status == UserStatus.ACTIVE).label("active"),
        )
        .join(Membership, Membership.user_id == User.id)
        .join(Role, Role.id == Membership.role_id)
        .where(Membership.organization_id == org_id, Membership.deleted_at.is_(None), User.deleted_at.is_(None))
    )


# built once: the members page and the members JSON list run it on every request
_LIST_MEMBERS = Prepared(_members_select(bindparam("org_id")).order_by(User.name, User.id))


async def list_members(session: AsyncSession, org_id: uuid.UUID) -> list[MemberRow]:
    """Members of the current organization, by name (rows with MemberRow's fields, by name and in order)."""
    return await fetch_prepared(session, _LIST_MEMBERS, {"org_id": org_id})


async def get_member(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> MemberRow:
    """One live member; NotFound otherwise (also for another organization's member)."""
    row = (await session.execute(_members_select(org_id).where(User.id == user_id))).one_or_none()
    if row is None:
        raise NotFound("No such member.")
    return MemberRow(*row)


async def count_members(session: AsyncSession, org_id: uuid.UUID) -> int:
    """Live members (the seat count)."""
    stmt = (
        select(func.count())
        .select_from(Membership)
        .where(Membership.organization_id == org_id, Membership.deleted_at.is_(None))
    )
    return (await session.execute(stmt)).scalar_one()


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


async def list_invitations(
    session: AsyncSession, org_id: uuid.UUID, *, invitation_id: uuid.UUID | None = None
) -> list[dict]:
    """Pending invitations (also expired ones, so they can be resent), newest first, with role name and expiry."""
    stmt = (
        select(
            Invitation.id,
            Invitation.email,
            Role.name,
            Invitation.expires_at,
            Invitation.send_count,
            Invitation.created_at,
            Invitation.expires_at <= func.now(),
        )
        .join(Role, Role.id == Invitation.role_id)
        .where(Invitation.organization_id == org_id, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
        .order_by(Invitation.created_at.desc())
    )
    if invitation_id is not None:
        stmt = stmt.where(Invitation.id == invitation_id)
    keys = ("id", "email", "role_name", "expires_at", "send_count", "created_at", "expired")
    return [dict(zip(keys, row, strict=True)) for row in (await fetch_rows(session, stmt)).all()]
