"""Organization home and the organization switcher."""
from __future__ import annotations

from quart import Blueprint, g

from webapp.core.htmx import render
from webapp.core.permissions import Perm, requires
from webapp.core.transaction import db_session
from webapp.ops import queries as ops_queries
from webapp.organizations import queries

bp = Blueprint("organizations", __name__)


@bp.get("/orgs")
@requires()
async def switcher():
    """Every organization the signed-in user belongs to."""
    memberships = await queries.list_memberships(db_session(), g.ctx.user_id)
    return await render("organizations/switcher.html", memberships=memberships)


@bp.get("/o/<org_slug>/")
@requires(Perm.ORG_READ)
async def home():
    """Overview: members, the latest system checks, recent activity."""
    session = db_session()
    members = await queries.list_members(session, g.ctx.org_id)
    checks = await ops_queries.list_checks(session, g.ctx.org_id, limit=5)
    activity = await queries.list_recent_activity(session, g.ctx.org_id, limit=10) if g.ctx.can(Perm.AUDIT_READ) else None
    return await render("organizations/home.html", members=members, checks=checks.items, activity=activity)
