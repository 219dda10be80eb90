"""system_checks: one row per check run, progress included, so reconnects re-sync from Postgres."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import Base, TenantOwned, Timestamps, UUIDPrimaryKey, Versioned
from webapp.core.enums import pg_enum
from webapp.ops.enums import CheckStatus


class SystemCheck(UUIDPrimaryKey, TenantOwned, Timestamps, Versioned, Base):
    """A background check of Postgres, Redis, workers and the scheduler."""

    __tablename__ = "system_checks"
    __table_args__ = (
        UniqueConstraint("organization_id", "id"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress_range"),
        CheckConstraint("attempt >= 0", name="attempt_nonnegative"),
        Index("ix_system_checks_active", "status", postgresql_where=text("status IN ('queued', 'running')")),
    )

    requested_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[CheckStatus] = mapped_column(
        pg_enum(CheckStatus, "check_status"), server_default=CheckStatus.QUEUED.value
    )
    progress: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    steps: Mapped[list] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    attempt: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
