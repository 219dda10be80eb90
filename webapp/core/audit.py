"""The audit log table (monthly partitions) and the writer every data-changing service calls."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, func, insert, text
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import Base
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext


class AuditLog(Base):
    """One row per change: who (and who impersonated), what, before and after."""

    __tablename__ = "audit_logs"
    __table_args__ = (
        Index("ix_audit_logs_org_created", "organization_id", "created_at"),
        Index("ix_audit_logs_entity", "entity_type", "entity_id"),
        Index("ix_audit_logs_metadata_gin", "metadata", postgresql_using="gin"),
        {"postgresql_partition_by": "RANGE (created_at)"},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(primary_key=True, server_default=func.now())
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=True
    )
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    impersonator_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(100))
    entity_type: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict | None] = mapped_column(JSONB(none_as_null=True))
    after: Mapped[dict | None] = mapped_column(JSONB(none_as_null=True))
    metadata_: Mapped[dict] = mapped_column("metadata", JSONB, server_default=text("'{}'::jsonb"))
    request_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(Text)
    break_glass: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


def jsonable(value: Any) -> Any:
    """Make ids, dates, enums and decimals JSON-safe for JSONB columns."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


async def record(
    session: AsyncSession,
    ctx: RequestContext | None,
    action: str,
    *,
    entity_type: str,
    entity_id: object = None,
    before: dict | None = None,
    after: dict | None = None,
    metadata: dict | None = None,
    organization_id: uuid.UUID | None | bool = True,
) -> None:
    """Insert an audit row in the caller's transaction (organization defaults to the context's)."""
    org = (ctx.org_id if ctx else None) if organization_id is True else organization_id
    metadata = dict(metadata or {})
    if ctx and ctx.api_key_id:
        metadata["api_key_id"] = ctx.api_key_id
    if ctx and ctx.break_glass_id:
        metadata["break_glass_id"] = ctx.break_glass_id  # every action under break-glass is marked
    await session.execute(
        # Core insert with every key sent: no RETURNING, which would need SELECT rights on rows without an org
        insert(AuditLog.__table__).values(
            id=new_id(),
            created_at=datetime.now(UTC),
            organization_id=org,
            actor_user_id=ctx.user_id if ctx else None,
            impersonator_user_id=ctx.impersonator_id if ctx else None,
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id) if entity_id is not None else None,
            before=jsonable(before) if before is not None else None,
            after=jsonable(after) if after is not None else None,
            metadata=jsonable(metadata),
            request_id=ctx.request_id if ctx else None,
            ip=ctx.ip if ctx else None,
            user_agent=ctx.user_agent if ctx else None,
            break_glass=bool(ctx and ctx.break_glass_id),
        )
    )
