"""What a 403 page says beyond "not allowed": which permission is missing and who in the organization can grant it."""

from __future__ import annotations

from quart import g

from webapp.core.errors import DomainError, Forbidden
from webapp.core.permissions import Perm, SystemRole
from webapp.core.transaction import db_session
from webapp.iam.catalog import PERMISSION_DESCRIPTIONS
from webapp.organizations.queries import list_members

GRANTORS = (SystemRole.OWNER.value, SystemRole.ADMIN.value)


async def forbidden_context(exc: DomainError) -> dict:
    """For a 403 inside an organization: the missing permissions with their meaning, and the owners and admins
    to ask (the signed-in person excluded)."""
    ctx = g.get("ctx")
    if not isinstance(exc, Forbidden) or ctx is None or ctx.org_id is None:
        return {}
    missing = []
    for name in exc.details.get("missing", []):
        try:
            missing.append((name, PERMISSION_DESCRIPTIONS.get(Perm(name), "")))
        except ValueError:
            missing.append((name, ""))
    members = await list_members(db_session(), ctx.org_id)
    ask = [m for m in members if m.role in GRANTORS and m.active and m.user_id != ctx.user_id]
    return {"missing_permissions": missing, "ask": ask[:5]}
