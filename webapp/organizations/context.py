"""Resolve the organization of an /o/<org_slug>/ (or JSON org id) route and scope the transaction to it."""

from __future__ import annotations

import uuid
from datetime import datetime

from quart import g

from webapp.core.errors import Forbidden, NotFound
from webapp.core.permissions import Perm
from webapp.core.tenancy import remember_scope
from webapp.core.transaction import db_session
from webapp.iam.catalog import role_permissions
from webapp.organizations import queries
from webapp.organizations.enums import OrgStatus


async def load_org_context(*, slug: str | None = None, org_id: uuid.UUID | None = None) -> None:
    """Membership is always checked: not a member looks exactly like no such organization (404)."""
    ctx = g.ctx
    if not ctx.is_authenticated:
        return  # @requires answers (login redirect or 401) before anything leaks
    if ctx.bound_org_id is not None:  # an API key or access token carries its organization
        if (slug is not None and slug != ctx.org_slug) or (slug is None and org_id != ctx.bound_org_id):
            raise NotFound("No such organization.")
        return
    session = db_session()
    membership = await queries.enter_membership(session, slug=slug, org_id=org_id, user_id=ctx.user_id)
    enter_org(ctx, membership)
    remember_scope(session, org_id=membership.org_id, user_id=ctx.user_id)  # set by enter_membership


def enter_org(ctx, membership: queries.OrgMembership | None) -> None:
    """Fill the context from a membership, refusing missing, suspended or MFA-requiring organizations."""
    if membership is None:
        raise NotFound("No such organization.")
    if membership.status == OrgStatus.SUSPENDED:
        raise Forbidden("This organization is suspended. Contact its owner.")
    if membership.require_mfa and not ctx.mfa_enabled:
        raise Forbidden(
            "This organization requires two-factor authentication. Turn it on under "
            "Security & two-factor (/me/security), then come back.",
            {"action": "/me/security"},
        )
    ctx.org_id, ctx.org_slug, ctx.org_name = membership.org_id, membership.slug, membership.name
    ctx.role, ctx.org_status = membership.role, membership.status
    apply_grants(ctx, membership)
    if membership.billing_locked:
        # a payment overdue past the grace period: reading stays, and so does paying (billing)
        ctx.billing_locked = True
        ctx.permissions = frozenset(p for p in ctx.permissions if p.endswith(":read") or p == Perm.BILLING_MANAGE)
        ctx.mission_permissions = {
            m: frozenset(p for p in ps if p.endswith(":read")) for m, ps in ctx.mission_permissions.items()
        }
    if membership.status == OrgStatus.ARCHIVED:
        # read-only: reading stays, and whoever may edit the organization may re-activate it
        ctx.permissions = frozenset(p for p in ctx.permissions if p.endswith(":read") or p == Perm.ORG_WRITE)
        ctx.mission_permissions = {
            m: frozenset(p for p in ps if p.endswith(":read")) for m, ps in ctx.mission_permissions.items()
        }


def apply_grants(ctx, membership: queries.OrgMembership) -> None:
    """Permissions = main role ∪ live organization-wide assignments ∪ active break-glass; mission-scoped apart."""
    permissions = set(role_permissions(membership.role, membership.role_is_system, membership.role_permissions))
    by_mission: dict[uuid.UUID, set[str]] = {}
    for key, is_system, stored, mission_id in membership.grants:
        granted = role_permissions(key, is_system, stored)
        if mission_id:
            by_mission.setdefault(uuid.UUID(mission_id), set()).update(granted)
        else:
            permissions |= granted
    if membership.break_glass:
        activation_id, key, stored, until = membership.break_glass
        permissions |= role_permissions(key, False, stored)
        ctx.break_glass_id, ctx.break_glass_until = uuid.UUID(activation_id), datetime.fromisoformat(until)
    ctx.permissions = frozenset(permissions)
    ctx.mission_permissions = {m: frozenset(p) for m, p in by_mission.items()}
