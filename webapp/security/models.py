"""security_events: append-only, partitioned by month like the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import Base
from webapp.core.enums import pg_enum
from webapp.core.ids import new_id
from webapp.security.enums import Severity


class SecurityEvent(Base):
    """One security-relevant event: sign-ins, lockouts, MFA, key use, session ends, break-glass."""

    __tablename__ = "security_events"
    __table_args__ = (
        Index("ix_security_events_org_created", "organization_id", "created_at"),
        Index("ix_security_events_user_created", "user_id", "created_at"),
        Index("ix_security_events_type_created", "event_type", "created_at"),
        {"postgresql_partition_by": "RANGE (created_at)"},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(primary_key=True, server_default=func.now())
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    event_type: Mapped[str] = mapped_column(String(60))
    severity: Mapped[Severity] = mapped_column(
        pg_enum(Severity, "security_severity"), server_default=Severity.INFO.value
    )
    ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    metadata_: Mapped[dict] = mapped_column("metadata", JSONB, server_default=text("'{}'::jsonb"))
