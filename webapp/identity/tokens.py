"""Single-use emailed tokens: issue (superseding older ones) and consume exactly once."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.errors import BadRequest
from webapp.core.ids import new_id
from webapp.identity.enums import TokenPurpose
from webapp.identity.models import EmailToken
from webapp.identity.queries import token_digest

LIFETIMES = {
    TokenPurpose.VERIFY_EMAIL: timedelta(hours=24),
    TokenPurpose.RESET_PASSWORD: timedelta(minutes=30),  # platform reference: 30-60 min
    TokenPurpose.UNLOCK_ACCOUNT: timedelta(hours=1),
    TokenPurpose.CHANGE_EMAIL: timedelta(hours=24),
}


async def issue_token(session: AsyncSession, user_id: uuid.UUID, purpose: TokenPurpose, email: str) -> str:
    """A new raw token for the link; earlier unused tokens of the same purpose stop working."""
    now = datetime.now(UTC)
    await session.execute(
        update(EmailToken)
        .where(EmailToken.user_id == user_id, EmailToken.purpose == purpose, EmailToken.used_at.is_(None))
        .values(used_at=now)
    )
    raw = secrets.token_urlsafe(32)
    session.add(
        EmailToken(
            id=new_id(),
            user_id=user_id,
            purpose=purpose,
            token_hash=token_digest(raw),
            email=email,
            expires_at=now + LIFETIMES[purpose],
        )
    )
    await session.flush()
    return raw


async def consume_token(session: AsyncSession, raw: str, purpose: TokenPurpose) -> EmailToken:
    """Mark a live token used and return it; a 400 when it is unknown, used, superseded or expired."""
    if not raw or len(raw) > 128:
        raise BadRequest("This link is not valid. Ask for a new one.")
    stmt = (
        select(EmailToken)
        .where(EmailToken.token_hash == token_digest(raw), EmailToken.purpose == purpose)
        .with_for_update()
    )
    token = (await session.execute(stmt)).scalar_one_or_none()
    now = datetime.now(UTC)
    if token is None or token.used_at is not None or token.expires_at <= now:
        raise BadRequest("This link has expired or was already used. Ask for a new one.")
    token.used_at = now
    return token
