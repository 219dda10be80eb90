"""Organization writes: create (with its system roles and owner), and adding a member."""
from __future__ import annotations

import re
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core import audit
from webapp.core.errors import ValidationError
from webapp.core.ids import new_id
from webapp.core.permissions import SystemRole
from webapp.core.tenancy import RequestContext, scope_session
from webapp.iam import queries as iam_queries
from webapp.iam import service as iam
from webapp.organizations.models import Membership, Organization

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$")


def validate_slug(slug: str) -> str:
    """Lower-case letters, digits and inner hyphens, 1-48 characters."""
    if not SLUG_RE.match(slug or ""):
        raise ValidationError(details={"fields": {"slug": ["Use 1-48 lower-case letters, digits or inner hyphens."]}})
    return slug


async def create_organization(
    session: AsyncSession, ctx: RequestContext | None, *, slug: str, name: str, owner_id: uuid.UUID,
) -> Organization:
    """Create an organization and make `owner_id` its owner; the session is scoped to it afterwards."""
    validate_slug(slug)
    if not name.strip():
        raise ValidationError(details={"fields": {"name": ["Name is required."]}})
    org = Organization(id=new_id(), slug=slug, name=name.strip())
    await scope_session(session, org_id=org.id, user_id=owner_id)
    session.add(org)
    await session.flush()
    roles = await iam.create_system_roles(session, ctx, org.id)
    membership = Membership(id=new_id(), organization_id=org.id, user_id=owner_id, role_id=roles[SystemRole.OWNER].id)
    session.add(membership)
    await session.flush()
    await audit.record(
        session, ctx, "organization.create", entity_type="organization", entity_id=org.id,
        after={"slug": slug, "name": org.name}, organization_id=org.id,
    )
    return org


async def add_member(
    session: AsyncSession, ctx: RequestContext | None, *, org_id: uuid.UUID, user_id: uuid.UUID, role: str | uuid.UUID,
) -> Membership:
    """Add a user to the current organization with a main role (a role key or id); the role's cap applies."""
    role_row = (await iam_queries.get_role(session, org_id, role) if isinstance(role, uuid.UUID)
                else await iam_queries.find_role_by_key(session, org_id, str(role)))
    if role_row is None:
        raise ValidationError(details={"fields": {"role": ["No such role."]}})
    await iam.check_cap(session, org_id, role_row, user_id)
    membership = Membership(id=new_id(), organization_id=org_id, user_id=user_id, role_id=role_row.id)
    session.add(membership)
    await session.flush()
    await audit.record(
        session, ctx, "membership.create", entity_type="membership", entity_id=membership.id,
        after={"user_id": user_id, "role": role_row.key}, organization_id=org_id,
    )
    return membership
