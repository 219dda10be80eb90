"""api_keys (tenant-owned, RLS; found by hash before the organization is known, see the migration's policy)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import (
    Base,
    SoftDelete,
    TenantOwned,
    Timestamps,
    UUIDPrimaryKey,
    Versioned,
)


class ApiKey(UUIDPrimaryKey, TenantOwned, Timestamps, SoftDelete, Versioned, Base):
    """A member's key for JSON clients: only its SHA-256 is stored; `prefix` lets people recognise it."""

    __tablename__ = "api_keys"
    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "membership_id", "user_id"],
            ["memberships.organization_id", "memberships.id", "memberships.user_id"],
            ondelete="CASCADE",
        ),
        Index("ix_api_keys_user", "organization_id", "user_id", postgresql_where=text("deleted_at IS NULL")),
        CheckConstraint("char_length(name) BETWEEN 1 AND 80", name="name_length"),
        CheckConstraint("cardinality(permissions) >= 1", name="has_a_scope"),
    )

    membership_id: Mapped[uuid.UUID] = mapped_column()
    user_id: Mapped[uuid.UUID] = mapped_column()
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    permissions: Mapped[list[str]] = mapped_column(ARRAY(String(60)))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    expires_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    last_used_ip: Mapped[str | None] = mapped_column(INET)
