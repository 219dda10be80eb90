"""Throttled credential checks shared by the browser sign-in and the JSON login."""

from __future__ import annotations

import math

from quart import current_app
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.errors import RateLimited, Unauthorized
from webapp.core.tenancy import RequestContext
from webapp.core.transaction import commit
from webapp.identity import accounts, mfa, service
from webapp.identity.models import User
from webapp.identity.throttle import account_key
from webapp.security.enums import SecurityEventType, Severity
from webapp.security.service import record_event

THROTTLED = {
    "account_locked": "Too many failed sign-ins to this account: it is locked for about {minutes} min. "
    "The owner was emailed a link to unlock it now.",
    "account_ip": "Too many failed sign-ins from here. Try again in about {minutes} min, or reset your password.",
    "ip": "Too many failed sign-ins from your network. Try again in about {minutes} min.",
}


def _state():
    return current_app.extensions["closedloop"]


async def _refuse_if_throttled(session: AsyncSession, ctx: RequestContext, account: str) -> None:
    verdict = await _state()["throttle"].check(account, ctx.ip or "unknown")
    if verdict.allowed:
        return
    await record_event(
        session,
        ctx,
        SecurityEventType.LOGIN_THROTTLED,
        severity=Severity.WARNING,
        organization_id=None,
        metadata={"reason": verdict.reason},
    )
    await commit(session)  # the event must survive the 429's rollback
    raise RateLimited(
        verdict.retry_after, THROTTLED[verdict.reason].format(minutes=math.ceil(verdict.retry_after / 60))
    )


async def check_password(session: AsyncSession, ctx: RequestContext, email: str, password: str) -> User:
    """The user behind email + password, under the sign-in throttle; RateLimited or Unauthorized otherwise.

    A failure is counted (and may lock the account and email its owner); its security events are
    committed before the error leaves, so the refusal's rollback keeps them.
    """
    settings, throttle = _state()["settings"], _state()["throttle"]
    account, ip = account_key(email), ctx.ip or "unknown"
    await _refuse_if_throttled(session, ctx, account)
    try:
        user = await service.authenticate(session, ctx, email=email, password=password)
    except Unauthorized:
        if await throttle.record_failure(account, ip):
            await accounts.notify_lock(
                session, ctx, email, base_url=settings.base_url, minutes=settings.login_lock_minutes
            )
        await commit(session)
        raise
    await throttle.record_success(account, ip)
    return user


async def check_second_factor(session: AsyncSession, ctx: RequestContext, user: User, code: str) -> None:
    """A TOTP or recovery code for a user whose password was right; counted like a wrong password."""
    account, ip = account_key(user.email), ctx.ip or "unknown"
    await _refuse_if_throttled(session, ctx, account)
    if not await mfa.verify_second_factor(session, ctx, user, secret_key=_state()["settings"].secret_key, code=code):
        await _state()["throttle"].record_failure(account, ip)
        await commit(session)  # keep the failure's security event
        raise Unauthorized(
            "That code does not match. Use the current code from your app, or a recovery code.", {"mfa_required": True}
        )
