"""Resolve the organization of an /o/<org_slug>/ (or JSON org id) route and scope the transaction to it."""
from __future__ import annotations

import uuid

from quart import g

from webapp.core.errors import Forbidden, NotFound
from webapp.core.permissions import permissions_for
from webapp.core.tenancy import remember_scope
from webapp.core.transaction import db_session
from webapp.organizations import queries
from webapp.organizations.enums import OrgStatus


async def load_org_context(*, slug: str | None = None, org_id: uuid.UUID | None = None) -> None:
    """Membership is always checked: not a member looks exactly like no such organization (404)."""
    ctx = g.ctx
    if not ctx.is_authenticated:
        return  # @requires answers (login redirect or 401) before anything leaks
    session = db_session()
    membership = await queries.enter_membership(session, slug=slug, org_id=org_id, user_id=ctx.user_id)
    if membership is None:
        raise NotFound("No such organization.")
    if membership.status == OrgStatus.SUSPENDED:
        raise Forbidden("This organization is suspended. Contact its owner.")
    if membership.require_mfa and not ctx.mfa_enabled:
        raise Forbidden("This organization requires two-factor authentication. Turn it on under "
                        "Security & two-factor (/me/security), then come back.", {"action": "/me/security"})
    ctx.org_id, ctx.org_slug, ctx.org_name = membership.org_id, membership.slug, membership.name
    ctx.role = membership.role
    ctx.permissions = permissions_for(membership.role)
    remember_scope(session, org_id=membership.org_id, user_id=ctx.user_id)  # set by enter_membership
