"""JSON logins: API sessions bound to one organization, short-lived access tokens and rotating refresh tokens.

Tokens are opaque (`cl_at_…`, `cl_rt_…`, 256 bits) and stored as SHA-256, so revoking the session row
ends them at once, which a signed JWT could not do. The session is the refresh-token family: a refresh
token works once; presenting it again means it was copied, and the whole family is revoked.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core import audit
from webapp.core.driver import Prepared, fetch_prepared
from webapp.core.errors import Unauthorized
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext, set_scope_column
from webapp.identity import service
from webapp.identity.enums import AuthTokenKind, SessionKind, UserStatus
from webapp.identity.models import AuthSession, AuthToken, User
from webapp.identity.queries import token_digest
from webapp.security.enums import SecurityEventType, Severity
from webapp.security.service import record_event
from webapp.settings.columns import effective

ACCESS_PREFIX = "cl_at_"
REFRESH_PREFIX = "cl_rt_"


@dataclass(frozen=True)
class TokenPair:
    """What a login or a refresh hands out; the raw tokens exist only in this answer."""

    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    session_id: uuid.UUID
    organization_id: uuid.UUID


@dataclass(frozen=True)
class AccessPrincipal:
    """The user and organization behind a live access token."""

    session_id: uuid.UUID
    user_id: uuid.UUID
    organization_id: uuid.UUID
    email: str
    name: str
    mfa_enabled: bool
    last_seen_at: datetime
    locale: str
    timezone: str
    is_platform_admin: bool


def _now() -> datetime:
    return datetime.now(UTC)


def _new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


async def _issue_pair(
    session: AsyncSession, auth_session: AuthSession, *, access_ttl: timedelta, refresh_ttl: timedelta
) -> TokenPair:
    now = _now()
    access, refresh = _new_token(ACCESS_PREFIX), _new_token(REFRESH_PREFIX)
    access_until = min(now + access_ttl, auth_session.expires_at)
    refresh_until = min(now + refresh_ttl, auth_session.expires_at)
    session.add_all(
        [
            AuthToken(
                id=new_id(),
                session_id=auth_session.id,
                kind=AuthTokenKind.ACCESS,
                token_hash=token_digest(access),
                expires_at=access_until,
            ),
            AuthToken(
                id=new_id(),
                session_id=auth_session.id,
                kind=AuthTokenKind.REFRESH,
                token_hash=token_digest(refresh),
                expires_at=refresh_until,
            ),
        ]
    )
    await session.flush()
    return TokenPair(access, access_until, refresh, refresh_until, auth_session.id, auth_session.organization_id)


async def start_api_session(
    session: AsyncSession,
    ctx: RequestContext,
    user: User,
    *,
    org_id: uuid.UUID,
    access_ttl: timedelta,
    refresh_ttl: timedelta,
    absolute: timedelta,
) -> TokenPair:
    """A new API session for one organization and its first token pair (the caller checked membership)."""
    auth_session = AuthSession(
        id=new_id(),
        user_id=user.id,
        token_hash=secrets.token_bytes(32),
        kind=SessionKind.API,
        organization_id=org_id,
        expires_at=_now() + absolute,
        ip=ctx.ip,
        user_agent=ctx.user_agent,
    )
    session.add(auth_session)
    await session.flush()
    ctx.user_id, ctx.session_id = user.id, auth_session.id
    await audit.record(
        session,
        ctx,
        "auth.login",
        entity_type="auth_session",
        entity_id=auth_session.id,
        metadata={"kind": "api"},
        organization_id=None,
    )
    await record_event(
        session,
        ctx,
        SecurityEventType.LOGIN_SUCCEEDED,
        user_id=user.id,
        organization_id=None,
        metadata={
            "session_id": auth_session.id,
            "kind": "api",
            "organization_id": org_id,
            "mfa": user.mfa_enabled_at is not None,
        },
    )
    return await _issue_pair(session, auth_session, access_ttl=access_ttl, refresh_ttl=refresh_ttl)


class RefreshReused(Unauthorized):
    """A refresh token came back after it was exchanged: the family was revoked (the caller commits that)."""


async def refresh(
    session: AsyncSession, ctx: RequestContext, raw: str, *, access_ttl: timedelta, refresh_ttl: timedelta
) -> TokenPair:
    """Exchange a refresh token for a new pair, once; a second use revokes the session (RefreshReused)."""
    invalid = Unauthorized(
        "This refresh token is not valid: it expired, was revoked, or was never issued. Log in again."
    )
    if not raw.startswith(REFRESH_PREFIX) or len(raw) > 100:
        raise invalid
    stmt = (
        select(AuthToken, AuthSession, User.status)
        .join(AuthSession, AuthSession.id == AuthToken.session_id)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthToken.token_hash == token_digest(raw), AuthToken.kind == AuthTokenKind.REFRESH)
        .with_for_update(of=AuthToken)  # two concurrent refreshes with one token: only one wins
    )
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        raise invalid
    token, auth_session, user_status = row
    now = _now()
    ctx.user_id = auth_session.user_id
    if token.used_at is not None:
        if auth_session.revoked_at is None:
            await service.revoke_session(session, ctx, auth_session.id, reason="refresh_token_reuse")
            await record_event(
                session,
                ctx,
                SecurityEventType.TOKEN_REUSE,
                user_id=auth_session.user_id,
                severity=Severity.CRITICAL,
                organization_id=None,
                metadata={"session_id": auth_session.id, "used_at": token.used_at.isoformat()},
            )
        raise RefreshReused(
            "This refresh token was already used, so it may have been copied. "
            "Every token of this login was revoked; log in again."
        )
    if (
        token.expires_at <= now
        or auth_session.revoked_at is not None
        or auth_session.expires_at <= now
        or user_status != UserStatus.ACTIVE
    ):
        raise invalid
    token.used_at = now
    auth_session.last_seen_at = now
    ctx.session_id = auth_session.id
    await audit.record(
        session,
        ctx,
        "auth.token_refreshed",
        entity_type="auth_session",
        entity_id=auth_session.id,
        organization_id=None,
    )
    return await _issue_pair(session, auth_session, access_ttl=access_ttl, refresh_ttl=refresh_ttl)


# built once: it runs on every bearer request
_ACCESS = Prepared(
    select(
        set_scope_column("user_id", AuthSession.user_id),
        AuthSession.id,
        AuthSession.user_id,
        AuthSession.organization_id,
        User.email,
        User.name,
        User.mfa_enabled_at.is_not(None),
        AuthSession.last_seen_at,
        effective("profile.locale", user_id=User.id),
        effective("profile.timezone", user_id=User.id),
        User.is_platform_admin,
    )
    .select_from(AuthToken)
    .join(AuthSession, AuthSession.id == AuthToken.session_id)
    .join(User, User.id == AuthSession.user_id)
    .where(
        AuthToken.token_hash == bindparam("token_hash"),
        AuthToken.kind == AuthTokenKind.ACCESS,
        AuthToken.expires_at > bindparam("now"),
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > bindparam("now"),
        User.status == UserStatus.ACTIVE,
        User.deleted_at.is_(None),
    )
)


async def find_access_principal(session: AsyncSession, raw: str) -> AccessPrincipal | None:
    """The principal of a live access token (also sets app.user_id), or None when it is not usable."""
    if not raw.startswith(ACCESS_PREFIX) or len(raw) > 100:
        return None
    rows = await fetch_prepared(session, _ACCESS, {"token_hash": token_digest(raw), "now": _now()})
    return AccessPrincipal(*rows[0][1:]) if rows else None
