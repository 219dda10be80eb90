"""Organization writes: create (with its system roles and owner), and adding a member."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.billing import subscriptions as billing
from webapp.catalog.service.install import install_reference_catalog
from webapp.core import audit
from webapp.core.errors import Conflict, NotFound, ValidationError
from webapp.core.ids import new_id
from webapp.core.permissions import Perm, SystemRole
from webapp.core.tenancy import RequestContext, scope_session
from webapp.iam import queries as iam_queries
from webapp.iam import service as iam
from webapp.iam.catalog import role_permissions
from webapp.organizations.enums import OrgStatus
from webapp.organizations.models import Membership, Organization
from webapp.settings import service as settings_service
from webapp.settings.registry import ORGANIZATION

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$")


def suggest_slug(name: str) -> str:
    """An address from a name: 'Jezero Crater Works' -> 'jezero-crater-works' (random when nothing is left)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:48].strip("-")
    return slug or f"org-{secrets.token_hex(3)}"


def validate_slug(slug: str) -> str:
    """Lower-case letters, digits and inner hyphens, 1-48 characters."""
    if not SLUG_RE.match(slug or ""):
        raise ValidationError(details={"fields": {"slug": ["Use 1-48 lower-case letters, digits or inner hyphens."]}})
    return slug


async def create_organization(
    session: AsyncSession,
    ctx: RequestContext | None,
    *,
    slug: str,
    name: str,
    owner_id: uuid.UUID,
) -> Organization:
    """Create an organization and make `owner_id` its owner; the session is scoped to it afterwards."""
    validate_slug(slug)
    if not name.strip():
        raise ValidationError(details={"fields": {"name": ["Name is required."]}})
    org = Organization(id=new_id(), slug=slug, name=name.strip())
    await scope_session(session, org_id=org.id, user_id=owner_id)
    session.add(org)
    await session.flush()
    await billing.start_free(session, org.id)
    roles = await iam.create_system_roles(session, ctx, org.id)
    membership = Membership(id=new_id(), organization_id=org.id, user_id=owner_id, role_id=roles[SystemRole.OWNER].id)
    session.add(membership)
    await session.flush()
    await audit.record(
        session,
        ctx,
        "organization.create",
        entity_type="organization",
        entity_id=org.id,
        after={"slug": slug, "name": org.name},
        organization_id=org.id,
    )
    await install_reference_catalog(session, ctx, org.id)
    return org


async def create_organization_for(
    session: AsyncSession, ctx: RequestContext, *, name: str, slug: str, owner_id: uuid.UUID | None = None
) -> Organization:
    """A new organization owned by `owner_id` (default: the acting user); a taken address is a 409 on `slug`."""
    try:
        async with session.begin_nested():  # a taken slug must not abort the whole transaction
            return await create_organization(session, ctx, slug=slug, name=name, owner_id=owner_id or ctx.user_id)
    except IntegrityError as exc:
        raise Conflict(
            "That organization address is taken.", {"fields": {"slug": ["That address is taken; try another."]}}
        ) from exc


async def add_member(
    session: AsyncSession,
    ctx: RequestContext | None,
    *,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    role: str | uuid.UUID,
) -> Membership:
    """Add a user to the current organization with a main role (a role key or id); the role's cap applies."""
    role_row = (
        await iam_queries.get_role(session, org_id, role)
        if isinstance(role, uuid.UUID)
        else await iam_queries.find_role_by_key(session, org_id, str(role))
    )
    if role_row is None:
        raise ValidationError(details={"fields": {"role": ["No such role."]}})
    await iam.check_cap(session, org_id, role_row, user_id)
    membership = Membership(id=new_id(), organization_id=org_id, user_id=user_id, role_id=role_row.id)
    session.add(membership)
    await session.flush()
    await audit.record(
        session,
        ctx,
        "membership.create",
        entity_type="membership",
        entity_id=membership.id,
        after={"user_id": user_id, "role": role_row.key},
        organization_id=org_id,
    )
    return membership


def _org_snapshot(org: Organization) -> dict:
    return {
        "name": org.name,
        "slug": org.slug,
        "status": org.status.value,
        "version": org.version,
    }


async def _lock_org(session: AsyncSession, org_id: uuid.UUID, *, deleted: bool = False) -> Organization:
    stmt = select(Organization).where(Organization.id == org_id).with_for_update()
    stmt = stmt.where(Organization.deleted_at.is_not(None) if deleted else Organization.deleted_at.is_(None))
    org = (await session.execute(stmt)).scalar_one_or_none()
    if org is None:
        raise NotFound("No such organization.")
    return org


async def update_organization(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    name: str | None = None,
    slug: str | None = None,
    require_mfa: bool | None = None,
    status: OrgStatus | str | None = None,
    version: int | None = None,
) -> Organization:
    """Edit the current organization; a stale `version` is a 409 carrying the saved values.

    Members may archive (read-only) and re-activate it; suspension is a platform decision. `require_mfa` is the
    registry's `security.require_mfa`, which needs two-factor on the acting account first.
    """
    org = await _lock_org(session, ctx.org_id)
    if version is not None and version != org.version:
        raise Conflict("The organization was changed by someone else first.", {"current": _org_snapshot(org)})
    errors: dict[str, list[str]] = {}
    if name is not None and not (1 <= len(name.strip()) <= 120):
        errors["name"] = ["Enter a name (at most 120 characters)."]
    if slug is not None and not SLUG_RE.match(slug):
        errors["slug"] = ["Use 1-48 lower-case letters, digits or inner hyphens."]
    if status is not None:
        try:
            status = OrgStatus(status)
        except ValueError:
            errors["status"] = ["Choose active or archived."]
        else:
            if status == OrgStatus.SUSPENDED or org.status == OrgStatus.SUSPENDED:
                errors["status"] = ["Only ClosedLoop staff suspend or reinstate an organization."]
    if errors:
        raise ValidationError(details={"fields": errors})
    if require_mfa is not None:  # a setting of the registry: checked, stored and audited there
        try:
            await settings_service.set_setting(session, ctx, "security.require_mfa", require_mfa, scope=ORGANIZATION)
        except ValidationError as exc:
            raise ValidationError(details={"fields": {"require_mfa": exc.details["fields"]["value"]}}) from exc
    before = _org_snapshot(org)
    if name is not None:
        org.name = name.strip()
    if slug is not None:
        org.slug = slug
    if status is not None:
        org.status = status
    if _org_snapshot(org) == before:
        return org
    try:
        async with session.begin_nested():  # a taken slug must not abort the request's transaction
            await session.flush()
    except IntegrityError as exc:
        raise Conflict("That address is taken.", {"fields": {"slug": ["That address is taken; try another."]}}) from exc
    await audit.record(
        session,
        ctx,
        "organization.update",
        entity_type="organization",
        entity_id=org.id,
        before={k: v for k, v in before.items() if k != "version"},
        after={k: v for k, v in _org_snapshot(org).items() if k != "version"},
    )
    return org


async def delete_organization(
    session: AsyncSession, ctx: RequestContext, *, confirm_slug: str | None = None
) -> Organization:
    """Soft-delete the current organization (owners: org:delete); its owners can restore it.

    The browser asks for the address typed back (`confirm_slug`); a JSON DELETE is explicit enough.
    """
    org = await _lock_org(session, ctx.org_id)
    if confirm_slug is not None and confirm_slug.strip() != org.slug:
        raise ValidationError.field("confirm", f"Type {org.slug} to confirm.")
    org.deleted_at = datetime.now(UTC)
    await session.flush()
    await audit.record(
        session,
        ctx,
        "organization.delete",
        entity_type="organization",
        entity_id=org.id,
        before={"slug": org.slug, "name": org.name},
    )
    return org


async def restore_organization(session: AsyncSession, ctx: RequestContext, org_id: uuid.UUID) -> Organization:
    """Bring back a deleted organization; only its owners may, and only while its address is free."""
    from webapp.organizations.queries import find_deleted_membership

    membership = await find_deleted_membership(session, user_id=ctx.user_id, org_id=org_id)
    if membership is None or Perm.ORG_DELETE not in role_permissions(
        membership.role, membership.role_is_system, membership.role_permissions
    ):
        raise NotFound("No such deleted organization.")
    await scope_session(session, org_id=org_id, user_id=ctx.user_id)
    org = await _lock_org(session, org_id, deleted=True)
    org.deleted_at = None
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"Another organization now uses the address {org.slug}; it cannot be restored under it."
        ) from exc
    acting = RequestContext(
        user_id=ctx.user_id, org_id=org_id, request_id=ctx.request_id, ip=ctx.ip, user_agent=ctx.user_agent
    )
    await audit.record(
        session,
        acting,
        "organization.restore",
        entity_type="organization",
        entity_id=org.id,
        after={"slug": org.slug, "name": org.name},
    )
    return org


async def set_status_as_platform(
    session: AsyncSession, ctx: RequestContext, org_id: uuid.UUID, *, status: str, reason: str
) -> Organization:
    """Platform staff suspend, reinstate or archive any organization, with a reason; audited in that organization."""
    from webapp.core.tenancy import enable_rls_bypass

    try:
        status = OrgStatus(status)
    except ValueError as exc:
        raise ValidationError.field("status", "Choose active, suspended or archived.") from exc
    reason = (reason or "").strip()
    if not 10 <= len(reason) <= 500:
        raise ValidationError.field("reason", "Say why in 10-500 characters; the organization's owners can read it.")
    await enable_rls_bypass(session, reason=f"platform admin sets organization status: {reason}")
    org = await _lock_org(session, org_id)
    before = org.status
    org.status = status
    await session.flush()
    await audit.record(
        session,
        ctx,
        "organization.status_set_by_platform",
        entity_type="organization",
        entity_id=org.id,
        before={"status": before.value},
        after={"status": status.value},
        metadata={"reason": reason, "rls_bypass": True},
        organization_id=org.id,
    )
    return org
