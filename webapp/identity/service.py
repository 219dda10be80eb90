"""Sign-in, sessions (create, touch, revoke) and user creation; every change is audited."""
from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core import audit
from webapp.core.errors import Unauthorized, ValidationError
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext
from webapp.identity.enums import UserStatus
from webapp.identity.models import AuthSession, User
from webapp.identity.passwords import hash_password, needs_rehash, verify_password
from webapp.identity.queries import SessionPrincipal, find_user_by_email, token_digest

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
TOUCH_EVERY = timedelta(minutes=1)


def _now() -> datetime:
    return datetime.now(UTC)


def validate_password(password: str) -> None:
    """Length rules only (ASVS 6.2: no composition rules)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(details={"fields": {"password": [f"Use at least {MIN_PASSWORD_LENGTH} characters."]}})
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(details={"fields": {"password": [f"Use at most {MAX_PASSWORD_LENGTH} characters."]}})


async def create_user(
    session: AsyncSession, ctx: RequestContext | None, *, email: str, name: str, password: str,
    is_platform_admin: bool = False, verified: bool = False,
) -> User:
    """Create a user with a hashed password."""
    validate_password(password)
    user = User(
        id=new_id(), email=email.strip(), name=name.strip(), password_hash=hash_password(password),
        is_platform_admin=is_platform_admin, email_verified_at=_now() if verified else None,
    )
    session.add(user)
    await session.flush()
    await audit.record(
        session, ctx, "user.create", entity_type="user", entity_id=user.id,
        after={"email": user.email, "name": user.name}, organization_id=None,
    )
    return user


async def authenticate(session: AsyncSession, ctx: RequestContext, *, email: str, password: str) -> User:
    """Check credentials; one generic error whatever was wrong (no account enumeration)."""
    user = await find_user_by_email(session, email)
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or user.status != UserStatus.ACTIVE:
        await audit.record(
            session, ctx, "auth.login_failed", entity_type="user", entity_id=user.id if user else None,
            metadata={"email": email.strip().lower()[:254]}, organization_id=None,
        )
        raise Unauthorized("That email and password do not match an active account.")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = _now()
    return user


async def start_session(
    session: AsyncSession, ctx: RequestContext, user: User, *, absolute: timedelta,
) -> tuple[str, AuthSession]:
    """Create a server-side session; returns the raw token (cookie value) once."""
    token = secrets.token_urlsafe(32)  # 256 bits from the OS CSPRNG
    auth_session = AuthSession(
        id=new_id(), user_id=user.id, token_hash=token_digest(token),
        expires_at=_now() + absolute, ip=ctx.ip, user_agent=ctx.user_agent,
    )
    session.add(auth_session)
    await session.flush()
    ctx.user_id, ctx.session_id = user.id, auth_session.id
    await audit.record(session, ctx, "auth.login", entity_type="auth_session", entity_id=auth_session.id, organization_id=None)
    return token, auth_session


def session_state(principal: SessionPrincipal, *, idle: timedelta, now: datetime | None = None) -> str:
    """'ok', or why the session can no longer be used: revoked, expired, idle, disabled."""
    now = now or _now()
    if principal.revoked_at is not None:
        return "revoked"
    if principal.user_status != UserStatus.ACTIVE:
        return "disabled"
    if principal.expires_at <= now:
        return "expired"
    if principal.last_seen_at + idle <= now:
        return "idle"
    return "ok"


async def touch_session(session: AsyncSession, principal: SessionPrincipal) -> None:
    """Move last_seen_at forward, at most once a minute (no write on every request)."""
    now = _now()
    if now - principal.last_seen_at >= TOUCH_EVERY:
        await session.execute(update(AuthSession).where(AuthSession.id == principal.session_id).values(last_seen_at=now))


async def revoke_session(
    session: AsyncSession, ctx: RequestContext | None, session_id: uuid.UUID, *, reason: str,
) -> bool:
    """End a session server-side; True when it was still live."""
    result = await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=_now(), revoked_reason=reason)
    )
    if result.rowcount:
        await audit.record(
            session, ctx, "auth.session_revoked", entity_type="auth_session", entity_id=session_id,
            metadata={"reason": reason}, organization_id=None,
        )
    return bool(result.rowcount)
