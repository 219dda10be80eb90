"""Reads of the outbox (development page and tests)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.errors import NotFound
from webapp.mail.models import OutboxEmail


async def list_recent(session: AsyncSession, limit: int = 50) -> list[OutboxEmail]:
    """The newest emails."""
    return list((await session.execute(select(OutboxEmail).order_by(OutboxEmail.id.desc()).limit(limit))).scalars())


async def get_email(session: AsyncSession, email_id: uuid.UUID) -> OutboxEmail:
    """One email; NotFound otherwise."""
    email = await session.get(OutboxEmail, email_id)
    if email is None:
        raise NotFound("No such email.")
    return email
