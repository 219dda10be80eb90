"""Resolve the browser principal from the Quart-Auth cookie and the server-side session row."""
from __future__ import annotations

from datetime import timedelta

from quart import current_app, g
from quart_auth import current_user, logout_user

from webapp.core.tenancy import remember_scope, scope_session
from webapp.core.transaction import db_session
from webapp.identity import service
from webapp.identity.queries import find_session_principal


async def resolve_principal() -> None:
    """Fill g.ctx with the signed-in user, or clear a cookie whose session is no longer valid."""
    token = current_user.auth_id  # None when there is no cookie or its signature is wrong
    if not token:
        return
    session = db_session()
    principal = await find_session_principal(session, token)
    settings = current_app.extensions["closedloop"]["settings"]
    state = "unknown" if principal is None else service.session_state(
        principal, idle=timedelta(minutes=settings.session_idle_minutes)
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
    await service.touch_session(session, principal)
    remember_scope(session, user_id=principal.user_id)  # already set by the lookup query
