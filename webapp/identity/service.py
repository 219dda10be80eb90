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
from webapp.identity.passwords import (
    hash_password_async,
    is_common_password,
    needs_rehash,
    verify_password_async,
)
from webapp.identity.queries import SessionPrincipal, find_user_by_email, token_digest
from webapp.security.enums import SecurityEventType, Severity
from webapp.security.service import record_event

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
TOUCH_EVERY = timedelta(minutes=1)


def _now() -> datetime:
    return datetime.now(UTC)


def password_problem(password: str, *, email: str = "") -> str | None:
    """Why a new password is refused, or None (ASVS 6.2: length and leaked lists, no composition rules)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    if is_common_password(password) or (email and password.lower() == email.strip().lower()):
        return "This password is too common. Choose another one; a short phrase works well."
    return None


def normalize_email(email: str, *, field: str = "email") -> str:
    """A syntactically valid address, normalized (no DNS lookups); 422 naming `field` otherwise."""
    from email_validator import EmailNotValidError, validate_email

    email = (email or "").strip()
    if len(email) > 254:
        raise ValidationError(details={"fields": {field: ["At most 254 characters."]}})
    try:
        return validate_email(email, check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError as exc:
        raise ValidationError(details={"fields": {field: [str(exc)]}}) from exc


def validate_password(password: str, *, email: str = "", field: str = "password") -> None:
    """Raise a 422 naming `field` when password_problem() finds one."""
    problem = password_problem(password, email=email)
    if problem:
        raise ValidationError(details={"fields": {field: [problem]}})


async def check_current_password(user: User, password: str, *, field: str = "password") -> None:
    """Re-authentication before a sensitive change: a 422 on `field` when the password is not the user's."""
    if not await verify_password_async(user.password_hash, password or ""):
        raise ValidationError.field(field, "That is not your current password.")


async def create_user(
    session: AsyncSession,
    ctx: RequestContext | None,
    *,
    email: str,
    name: str,
    password: str,
    is_platform_admin: bool = False,
    verified: bool = False,
) -> User:
    """Create a user with a hashed password."""
    validate_password(password, email=email)
    user = User(
        id=new_id(),
        email=email.strip(),
        name=name.strip(),
        password_hash=await hash_password_async(password),
        is_platform_admin=is_platform_admin,
        email_verified_at=_now() if verified else None,
    )
    session.add(user)
    await session.flush()
    await audit.record(
        session,
        ctx,
        "user.create",
        entity_type="user",
        entity_id=user.id,
        after={"email": user.email, "name": user.name},
        organization_id=None,
    )
    return user


async def authenticate(session: AsyncSession, ctx: RequestContext, *, email: str, password: str) -> User:
    """Check credentials; one generic error whatever was wrong (no account enumeration)."""
    user = await find_user_by_email(session, email)
    ok = await verify_password_async(user.password_hash if user else None, password)
    if not ok or user is None or user.status != UserStatus.ACTIVE:
        await record_event(
            session,
            ctx,
            SecurityEventType.LOGIN_FAILED,
            user_id=user.id if user else None,
            severity=Severity.WARNING,
            metadata={"email": email.strip().lower()[:254]},
            organization_id=None,
        )
        raise Unauthorized("That email and password do not match an active account.")
    if needs_rehash(user.password_hash):
        user.password_hash = await hash_password_async(password)
    # a Core UPDATE: signing in is not an edit of the profile, so it must not bump the version forms hold
    await session.execute(update(User).where(User.id == user.id).values(last_login_at=_now()))
    return user


async def start_session(
    session: AsyncSession,
    ctx: RequestContext,
    user: User,
    *,
    absolute: timedelta,
) -> tuple[str, AuthSession]:
    """Create a server-side session; returns the raw token (cookie value) once."""
    token = secrets.token_urlsafe(32)  # 256 bits from the OS CSPRNG
    auth_session = AuthSession(
        id=new_id(),
        user_id=user.id,
        token_hash=token_digest(token),
        expires_at=_now() + absolute,
        ip=ctx.ip,
        user_agent=ctx.user_agent,
    )
    session.add(auth_session)
    await session.flush()
    ctx.user_id, ctx.session_id = user.id, auth_session.id
    await audit.record(
        session, ctx, "auth.login", entity_type="auth_session", entity_id=auth_session.id, organization_id=None
    )
    await record_event(
        session,
        ctx,
        SecurityEventType.LOGIN_SUCCEEDED,
        user_id=user.id,
        organization_id=None,
        metadata={"session_id": auth_session.id, "mfa": user.mfa_enabled_at is not None},
    )
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
        await session.execute(
            update(AuthSession).where(AuthSession.id == principal.session_id).values(last_seen_at=now)
        )


async def revoke_session(
    session: AsyncSession,
    ctx: RequestContext | None,
    session_id: uuid.UUID,
    *,
    reason: str,
) -> bool:
    """End a session server-side; True when it was still live."""
    result = await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=_now(), revoked_reason=reason)
    )
    if result.rowcount:
        await audit.record(
            session,
            ctx,
            "auth.session_revoked",
            entity_type="auth_session",
            entity_id=session_id,
            metadata={"reason": reason},
            organization_id=None,
        )
        await record_event(
            session,
            ctx,
            SecurityEventType.SESSION_REVOKED,
            metadata={"session_id": session_id, "reason": reason},
            organization_id=None,
            user_id=ctx.user_id if ctx else None,
        )
    return bool(result.rowcount)


async def revoke_own_session(session: AsyncSession, ctx: RequestContext, session_id: uuid.UUID) -> bool:
    """End one of the signed-in user's own sessions; False when it is not theirs or already ended."""
    owned = await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.user_id == ctx.user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=_now(), revoked_reason="revoked_by_user")
    )
    if owned.rowcount:
        await audit.record(
            session,
            ctx,
            "auth.session_revoked",
            entity_type="auth_session",
            entity_id=session_id,
            metadata={"reason": "revoked_by_user"},
            organization_id=None,
        )
        await record_event(
            session,
            ctx,
            SecurityEventType.SESSION_REVOKED,
            organization_id=None,
            metadata={"session_id": session_id, "reason": "revoked_by_user"},
        )
    return bool(owned.rowcount)


async def revoke_user_sessions(
    session: AsyncSession,
    ctx: RequestContext | None,
    user_id: uuid.UUID,
    *,
    reason: str,
    keep: uuid.UUID | None = None,
) -> int:
    """End every live session of a user (except `keep`); the number ended."""
    stmt = update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    if keep is not None:
        stmt = stmt.where(AuthSession.id != keep)
    result = await session.execute(stmt.values(revoked_at=_now(), revoked_reason=reason))
    if result.rowcount:
        await record_event(
            session,
            ctx,
            SecurityEventType.SESSION_REVOKED,
            user_id=user_id,
            organization_id=None,
            metadata={"count": result.rowcount, "reason": reason, "kept": keep},
        )
    return result.rowcount


async def revoke_org_sessions(
    session: AsyncSession,
    ctx: RequestContext | None,
    user_id: uuid.UUID,
    org_id: uuid.UUID,
    *,
    reason: str,
) -> int:
    """End a user's JSON logins bound to one organization (they left it); the number ended."""
    result = await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.organization_id == org_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=_now(), revoked_reason=reason)
    )
    if result.rowcount:
        await record_event(
            session,
            ctx,
            SecurityEventType.SESSION_REVOKED,
            user_id=user_id,
            organization_id=None,
            metadata={"count": result.rowcount, "reason": reason, "organization_id": org_id},
        )
    return result.rowcount
