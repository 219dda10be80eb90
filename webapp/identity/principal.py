"""Resolve the principal: the Quart-Auth cookie and its server-side session row, or a bearer credential."""

from __future__ import annotations

from datetime import timedelta

from quart import current_app, g, request
from quart_auth import current_user, logout_user

from webapp.core.errors import Unauthorized
from webapp.core.tenancy import remember_scope, scope_session
from webapp.core.transaction import commit, db_session
from webapp.identity import bearer, service
from webapp.identity.queries import find_session_principal
from webapp.organizations.context import enter_org
from webapp.organizations.queries import enter_membership


async def resolve_principal() -> None:
    """Fill g.ctx with the signed-in user, or clear a cookie whose session is no longer valid."""
    header = request.headers.get("Authorization")
    if header is not None:
        await _resolve_bearer(header)  # a bearer request never falls back to the cookie
        return
    token = current_user.auth_id  # None when there is no cookie or its signature is wrong
    if not token:
        return
    session = db_session()
    principal = await find_session_principal(session, token)
    settings = current_app.extensions["closedloop"]["settings"]
    state = (
        "unknown"
        if principal is None
        else service.session_state(principal, idle=timedelta(minutes=settings.session_idle_minutes))
    )
    if state != "ok":
        if principal is not None:
            await scope_session(session)  # undo the app.user_id the lookup set
        if principal is not None and state in ("idle", "expired", "disabled"):
            await service.revoke_session(session, g.ctx, principal.session_id, reason=state)
        logout_user()
        g.session_ended = state
        return
    ctx = g.ctx
    ctx.user_id, ctx.session_id = principal.user_id, principal.session_id
    ctx.user_email, ctx.user_name = principal.email, principal.name
    ctx.mfa_enabled = principal.mfa_enabled
    ctx.locale, ctx.timezone = principal.locale, principal.timezone
    ctx.is_platform_admin = principal.is_platform_admin
    ctx.consent_due = principal.consent_due
    ctx.impersonator_id, ctx.impersonation_id = principal.impersonator_id, principal.impersonation_id
    ctx.impersonation_until = principal.expires_at if principal.impersonator_id else None
    await service.touch_session(session, principal)
    remember_scope(session, user_id=principal.user_id)  # already set by the lookup query


async def _resolve_bearer(header: str) -> None:
    """`Authorization: Bearer` with an access token or an API key, for the JSON API; both name their organization."""
    from webapp.apikeys import service as apikeys

    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Send credentials as `Authorization: Bearer <access token or API key>`.")
    if not request.path.startswith("/api/"):
        raise Unauthorized("Bearer credentials work on the JSON API (/api/v1) only.")
    if token.startswith(bearer.ACCESS_PREFIX):
        await _resolve_access_token(token)
    elif apikeys.looks_like_key(token):
        await _resolve_api_key(token)
    else:
        raise Unauthorized("This bearer token is not valid.")


async def _resolve_access_token(token: str) -> None:
    """An access token from POST /api/v1/auth/login: its session's user, inside the session's organization."""
    session, ctx = db_session(), g.ctx
    principal = await bearer.find_access_principal(session, token)
    if principal is None:
        raise Unauthorized(
            "This access token is not valid: it expired or was revoked. Refresh it or log in again.", {"refresh": True}
        )
    ctx.user_id, ctx.session_id = principal.user_id, principal.session_id
    ctx.user_email, ctx.user_name, ctx.mfa_enabled = principal.email, principal.name, principal.mfa_enabled
    ctx.locale, ctx.timezone = principal.locale, principal.timezone
    ctx.is_platform_admin = principal.is_platform_admin
    await service.touch_session(session, principal)
    membership = await enter_membership(session, user_id=principal.user_id, org_id=principal.organization_id)
    if membership is None:
        raise Unauthorized("You are no longer a member of the organization this token was issued for.")
    enter_org(ctx, membership)
    ctx.bound_org_id = principal.organization_id
    remember_scope(session, org_id=principal.organization_id, user_id=principal.user_id)


async def _resolve_api_key(token: str) -> None:
    """`cl_live_...`: the key's owner, inside the key's organization, with the key's scopes."""
    from webapp.apikeys import service as apikeys

    session, ctx = db_session(), g.ctx
    key = await apikeys.authenticate_key(session, ctx, token)
    if key is None:
        await commit(session)  # keep the refusal's security event through the 401's rollback
        raise Unauthorized("This API key is not valid: it may be disabled, expired or deleted.")
    if not key.owner_active:
        raise Unauthorized("The owner of this API key can no longer sign in.")
    membership = await enter_membership(session, user_id=key.user_id, org_id=key.org_id)
    enter_key(ctx, key, membership)
    remember_scope(session, org_id=key.org_id, user_id=key.user_id)


def enter_key(ctx, key, membership) -> None:
    """Fill the context from an API key and its owner's membership: the key never does more than its owner may
    do today."""
    if membership is None:  # its organization was deleted or its owner left it: the key is worth nothing
        raise Unauthorized("This API key is not valid: its organization is gone or its owner left it.")
    ctx.user_id, ctx.user_email, ctx.user_name = key.user_id, key.email, key.name
    ctx.mfa_enabled = key.mfa_enabled  # locale and time zone stay the defaults: a key's answers are JSON
    ctx.api_key_id = key.id
    enter_org(ctx, membership)
    ctx.permissions &= key.permissions
    ctx.mission_permissions = {m: p & key.permissions for m, p in ctx.mission_permissions.items()}
    ctx.bound_org_id = key.org_id
