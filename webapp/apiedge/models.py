"""Stored answers of idempotent API writes (api_idempotency_keys)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import Base, UUIDPrimaryKey


class IdempotencyKey(UUIDPrimaryKey, Base):
    """One `Idempotency-Key` of one organization (or, for routes outside any organization, one user): the request it
    was first used with (a hash) and, once that request finished, its answer — replayed to every retry for 24 hours.
    `processing` while the first request runs; a row left processing past `locked_until` (its process died) may be
    taken over by a retry."""

    __tablename__ = "api_idempotency_keys"
    __table_args__ = (
        UniqueConstraint("scope_key", "key"),
        Index("ix_api_idempotency_keys_expires", "expires_at"),
        CheckConstraint("status IN ('processing', 'done')", name="status_known"),
        CheckConstraint("length(key) BETWEEN 1 AND 255", name="key_length"),
    )

    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scope_key: Mapped[uuid.UUID]  # the organization, else the user
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(12), server_default="processing")
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    locked_until: Mapped[datetime]
    expires_at: Mapped[datetime]
