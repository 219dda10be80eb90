"""Permission names, the system roles' grants, and the @requires / @public route markers."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps

from quart import g, redirect, request, url_for

from webapp.core.errors import Forbidden, Unauthorized
from webapp.core.htmx import wants_json


class Perm(StrEnum):
    """Every permission as `domain:action`; descriptions live in webapp.iam.catalog."""

    ORG_READ = "org:read"
    ORG_WRITE = "org:write"
    ORG_DELETE = "org:delete"
    MEMBERS_READ = "members:read"
    MEMBERS_INVITE = "members:invite"
    MEMBERS_WRITE = "members:write"
    ROLES_READ = "roles:read"
    ROLES_WRITE = "roles:write"
    APIKEYS_WRITE = "apikeys:write"
    APIKEYS_ADMIN = "apikeys:admin"
    AUDIT_READ = "audit:read"
    SECURITY_READ = "security:read"
    BREAKGLASS_APPROVE = "breakglass:approve"
    OPS_READ = "ops:read"
    OPS_RUN = "ops:run"
    MISSIONS_READ = "missions:read"
    MISSIONS_WRITE = "missions:write"
    CREW_WRITE = "crew:write"
    CATALOG_READ = "catalog:read"
    CATALOG_WRITE = "catalog:write"
    MODULES_OPERATE = "modules:operate"
    PRODUCTS_READ = "products:read"
    PRODUCTS_WRITE = "products:write"
    SIMULATIONS_READ = "simulations:read"
    SIMULATIONS_RUN = "simulations:run"
    COMMENTS_WRITE = "comments:write"
    COMMENTS_MODERATE = "comments:moderate"
    ATTACHMENTS_WRITE = "attachments:write"
    SEARCH_REINDEX = "search:reindex"
    BILLING_READ = "billing:read"
    BILLING_MANAGE = "billing:manage"
    WEBHOOKS_MANAGE = "webhooks:manage"


class SystemRole(StrEnum):
    """Roles every organization has (seed 002 §5); their grants are in webapp.iam.catalog."""

    OWNER = "owner"
    ADMIN = "admin"
    MISSION_COMMANDER = "mission_commander"
    CREW_MEMBER = "crew_member"
    ANALYST = "analyst"
    BILLING_MANAGER = "billing_manager"
    PRIVACY_OFFICER = "privacy_officer"
    SECURITY_OFFICER = "security_officer"
    VIEWER = "viewer"


ACCESS_ATTR = "_closedloop_access"


def public(view: Callable) -> Callable:
    """Mark a route as reachable without signing in."""
    setattr(view, ACCESS_ATTR, ("public",))
    return view


def requires(*perms: Perm | str, mission_param: str | None = None) -> Callable[[Callable], Callable]:
    """Require a signed-in principal holding every permission in `perms` (none: signed in is enough).

    With `mission_param`, a grant scoped to the mission named by that route argument also counts.
    """

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        async def wrapper(*args, **kwargs):
            ctx = g.ctx
            if not ctx.is_authenticated:
                if wants_json():
                    raise Unauthorized()
                return redirect(url_for("identity.login", next=request.full_path.rstrip("?")))
            mission_id = kwargs.get(mission_param) if mission_param else None
            missing = [str(p) for p in perms if not ctx.can(str(p), mission_id=mission_id)]
            if missing and ctx.billing_locked:
                from webapp.core.errors import PaymentRequired

                raise PaymentRequired(
                    "A payment is overdue and the grace period is over: the organization is read-only until it is "
                    "paid.",
                    {"limit": "payment", "missing": missing, "upgrade_url": f"/o/{ctx.org_slug}/billing"},
                )
            if missing:
                raise Forbidden(details={"missing": missing})
            return await view(*args, **kwargs)

        setattr(wrapper, ACCESS_ATTR, ("requires", tuple(str(p) for p in perms)))
        return wrapper

    return decorate


def staff_only() -> None:
    """Platform staff only; everyone else (an API key too) sees no such page or route (404, not 403)."""
    from webapp.core.errors import NotFound

    if not g.ctx.is_platform_admin or g.ctx.api_key_id is not None:
        raise NotFound()


def refuse_api_keys() -> None:
    """Account-level routes act as the person; an API key (an organization's automation) may not use them."""
    if g.ctx.api_key_id is not None:
        raise Forbidden("API keys act inside their organization only; use a login's access token for this route.")


async def require_bound_credential() -> None:
    """Routes with no organization in the path serve only credentials bound to one (API key, access token)."""
    if g.ctx.is_authenticated and g.ctx.bound_org_id is None:
        raise Unauthorized(
            "Routes without an organization in the path need an API key or an access token "
            "(Authorization: Bearer); a browser session uses the /api/v1/organizations/:id/... routes."
        )
