"""Permission names, the system roles' grants, and the @requires / @public route markers."""
from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps

from quart import g, redirect, request, url_for

from webapp.core.errors import Forbidden, Unauthorized
from webapp.core.htmx import wants_json


class Perm(StrEnum):
    """Every permission as `domain:action`."""

    ORG_READ = "org:read"
    ORG_WRITE = "org:write"
    MEMBERS_READ = "members:read"
    MEMBERS_WRITE = "members:write"
    AUDIT_READ = "audit:read"
    OPS_READ = "ops:read"
    OPS_RUN = "ops:run"


class SystemRole(StrEnum):
    """Roles every organization has (seed 002 §5); custom roles arrive with IAM."""

    OWNER = "owner"
    ADMIN = "admin"
    MISSION_COMMANDER = "mission_commander"
    CREW_MEMBER = "crew_member"
    ANALYST = "analyst"
    BILLING_MANAGER = "billing_manager"
    PRIVACY_OFFICER = "privacy_officer"
    SECURITY_OFFICER = "security_officer"
    VIEWER = "viewer"


_ALL = frozenset(p.value for p in Perm)
_BASE = frozenset({Perm.ORG_READ, Perm.MEMBERS_READ, Perm.OPS_READ})

SYSTEM_ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    SystemRole.OWNER: _ALL,
    SystemRole.ADMIN: _ALL,
    SystemRole.MISSION_COMMANDER: _BASE | {Perm.OPS_RUN},
    SystemRole.CREW_MEMBER: _BASE | {Perm.OPS_RUN},
    SystemRole.ANALYST: _BASE | {Perm.OPS_RUN},
    SystemRole.BILLING_MANAGER: _BASE,
    SystemRole.PRIVACY_OFFICER: _BASE | {Perm.AUDIT_READ},
    SystemRole.SECURITY_OFFICER: _BASE | {Perm.AUDIT_READ, Perm.OPS_RUN},
    SystemRole.VIEWER: _BASE,
}


def permissions_for(role: str | None) -> frozenset[str]:
    """Permissions granted by a role name (unknown roles grant nothing)."""
    return frozenset(str(p) for p in SYSTEM_ROLE_PERMISSIONS.get(role or "", frozenset()))


ACCESS_ATTR = "_closedloop_access"


def public(view: Callable) -> Callable:
    """Mark a route as reachable without signing in."""
    setattr(view, ACCESS_ATTR, ("public",))
    return view


def requires(*perms: Perm | str) -> Callable[[Callable], Callable]:
    """Require a signed-in principal holding every permission in `perms` (none: signed in is enough)."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        async def wrapper(*args, **kwargs):
            ctx = g.ctx
            if not ctx.is_authenticated:
                if wants_json():
                    raise Unauthorized()
                return redirect(url_for("identity.login", next=request.full_path.rstrip("?")))
            missing = [str(p) for p in perms if not ctx.can(str(p))]
            if missing:
                raise Forbidden(details={"missing": missing})
            return await view(*args, **kwargs)

        setattr(wrapper, ACCESS_ATTR, ("requires", tuple(str(p) for p in perms)))
        return wrapper

    return decorate
