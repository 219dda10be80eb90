"""Reads for API keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.apikeys.models import ApiKey
from webapp.core.errors import NotFound


@dataclass(frozen=True)
class KeyRow:
    """A key as its list shows it (never the secret)."""

    id: uuid.UUID
    name: str
    prefix: str
    permissions: list[str]
    enabled: bool
    expires_at: datetime | None
    last_used_at: datetime | None
    last_used_ip: str | None
    created_at: datetime
    user_id: uuid.UUID
    owner_name: str
    version: int

    @property
    def expired(self) -> bool:
        """Past its expiry."""
        from datetime import UTC

        return self.expires_at is not None and self.expires_at <= datetime.now(UTC)


def _select():
    from webapp.identity.queries import user_aliases

    owner, _ = user_aliases()
    return (
        select(
            ApiKey.id,
            ApiKey.name,
            ApiKey.prefix,
            ApiKey.permissions,
            ApiKey.enabled,
            ApiKey.expires_at,
            ApiKey.last_used_at,
            ApiKey.last_used_ip,
            ApiKey.created_at,
            ApiKey.user_id,
            owner.name,
            ApiKey.version,
        )
        .join(owner, owner.id == ApiKey.user_id)
        .where(ApiKey.deleted_at.is_(None))
    )


async def list_keys(session: AsyncSession, org_id: uuid.UUID, *, user_id: uuid.UUID | None) -> list[KeyRow]:
    """Live keys of the organization, newest first: one user's, or everyone's when user_id is None."""
    stmt = _select().where(ApiKey.organization_id == org_id).order_by(ApiKey.created_at.desc())
    if user_id is not None:
        stmt = stmt.where(ApiKey.user_id == user_id)
    return [KeyRow(*row) for row in (await session.execute(stmt)).all()]


async def get_key(session: AsyncSession, org_id: uuid.UUID, key_id: uuid.UUID, *, user_id: uuid.UUID | None) -> KeyRow:
    """One live key (of `user_id` unless None); NotFound otherwise."""
    stmt = _select().where(ApiKey.organization_id == org_id, ApiKey.id == key_id)
    if user_id is not None:
        stmt = stmt.where(ApiKey.user_id == user_id)
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        raise NotFound("No such API key.")
    return KeyRow(*row)
