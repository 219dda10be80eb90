"""Reads for users and sessions."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from webapp.core.driver import Prepared, fetch_prepared
from webapp.core.errors import NotFound
from webapp.core.tenancy import set_scope_column
from webapp.identity.enums import UserStatus
from webapp.identity.models import AuthSession, User
from webapp.settings.columns import effective


def token_digest(token: str) -> bytes:
    """SHA-256 of a high-entropy secret (session token, invitation link, API key): what the database stores."""
    return hashlib.sha256(token.encode()).digest()


async def find_user_by_email(session: AsyncSession, email: str) -> User | None:
    """A live user by case-insensitive email, or None."""
    stmt = select(User).where(func.lower(User.email) == email.strip().lower(), User.deleted_at.is_(None))
    return (await session.execute(stmt)).scalar_one_or_none()


def user_aliases():
    """Two aliases of users for joining "who" and "by whom" into another domain's listing."""
    return aliased(User, name="subject_user"), aliased(User, name="acting_user")


async def get_user(session: AsyncSession, user_id, *, lock: bool = False) -> User:
    """A live user by id (locked for the transaction with `lock`, so concurrent edits of one account queue up
    instead of one failing on a stale version); NotFound otherwise."""
    stmt = select(User).where(User.id == user_id, User.deleted_at.is_(None))
    user = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if user is None:
        raise NotFound("No such user.")
    return user


@dataclass(frozen=True)
class SessionPrincipal:
    """The signed-in user behind a session token, with the session's timestamps."""

    session_id: object
    user_id: object
    email: str
    name: str
    is_platform_admin: bool
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    user_status: UserStatus
    mfa_enabled: bool
    locale: str
    timezone: str
    consent_due: bool
    impersonator_id: object = None
    impersonation_id: object = None


# built once: this runs on every signed-in request, and building a statement costs more than running it
_PRINCIPAL = Prepared(
    select(
        set_scope_column("user_id", AuthSession.user_id),
        AuthSession.id,
        AuthSession.user_id,
        User.email,
        User.name,
        User.is_platform_admin,
        AuthSession.last_seen_at,
        AuthSession.expires_at,
        AuthSession.revoked_at,
        User.status,
        User.mfa_enabled_at.is_not(None),
        effective("profile.locale", user_id=User.id),
        effective("profile.timezone", user_id=User.id),
        AuthSession.consent_due,
        AuthSession.impersonator_id,
        AuthSession.impersonation_id,
    )
    .join(User, User.id == AuthSession.user_id)
    .where(AuthSession.token_hash == bindparam("token_hash"), User.deleted_at.is_(None))
)


async def find_session_principal(session: AsyncSession, token: str) -> SessionPrincipal | None:
    """Session + user for a cookie token (None when the token is unknown or the user is deleted).

    Also sets app.user_id for the rest of the transaction in the same round trip; the caller
    resets it when the session turns out to be unusable.
    """
    rows = await fetch_prepared(session, _PRINCIPAL, {"token_hash": token_digest(token)})
    return SessionPrincipal(*rows[0][1:]) if rows else None


async def list_live_sessions(session: AsyncSession, user_id) -> list[AuthSession]:
    """A user's sessions that are neither revoked nor past their absolute expiry, most recent first."""
    stmt = (
        select(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None), AuthSession.expires_at > func.now())
        .order_by(AuthSession.last_seen_at.desc())
    )
    return list((await session.execute(stmt)).scalars())


def describe_device(user_agent: str | None) -> str:
    """'Firefox on Linux' from a User-Agent header (good enough to recognise one's own devices)."""
    ua = user_agent or ""
    browser = next(
        (
            name
            for key, name in (
                ("Edg/", "Edge"),
                ("Firefox/", "Firefox"),
                ("Chrome/", "Chrome"),
                ("Safari/", "Safari"),
                ("curl/", "curl"),
                ("python", "Python client"),
            )
            if key.lower() in ua.lower()
        ),
        "Unknown browser",
    )
    system = next(
        (
            name
            for key, name in (
                ("Android", "Android"),
                ("iPhone", "iPhone"),
                ("iPad", "iPad"),
                ("Mac OS X", "macOS"),
                ("Windows", "Windows"),
                ("Linux", "Linux"),
            )
            if key in ua
        ),
        "an unknown system",
    )
    return f"{browser} on {system}"
