"""The audit log table (monthly partitions) and the writer every data-changing service calls."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core import audit_chain
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
        Index("ix_audit_logs_chain", "organization_id", "chain_seq"),
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
    # the hash chain (webapp.core.audit_chain): NULL only on rows written behind the app's back, which verify flags
    chain_seq: Mapped[int | None] = mapped_column(BigInteger)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    row_hash: Mapped[str | None] = mapped_column(String(64))
    redacted_at: Mapped[datetime | None]  # erasure rewrote the content: the chain holds, the content check is off


class AuditChainHead(Base):
    """The last link of each chain: its sequence number and hash. The row lock of the upsert that hands out the
    next number serialises writers to one chain; verification never trusts it (it recomputes from the rows)."""

    __tablename__ = "audit_chain_heads"

    chain_key: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # the organization, or PLATFORM_CHAIN
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))  # the hash before the head (what the last row links to)
    head_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


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
    values = dict(
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
    await _chain(session, values)


# One statement per row: the head hands out the next link (sequence, previous hash, and the new hash computed from
# the row's digest, the same expression as audit_chain.link_hash) and the row goes in with it. The head's row lock
# queues other writers to the chain until this transaction ends.
_CHAINED_INSERT = text("""
    WITH link AS (
        INSERT INTO audit_chain_heads AS h (chain_key, seq, prev_hash, head_hash)
        VALUES (:chain_key, 1, :genesis, :first_hash)
        ON CONFLICT (chain_key) DO UPDATE SET
            seq = h.seq + 1, prev_hash = h.head_hash, updated_at = now(),
            head_hash = encode(sha256(convert_to(h.head_hash || ':' || (h.seq + 1)::text || ':' || :digest, 'UTF8')),
                               'hex')
        RETURNING seq, prev_hash, head_hash
    )
    INSERT INTO audit_logs (id, created_at, organization_id, actor_user_id, impersonator_user_id, action,
                            entity_type, entity_id, before, after, metadata, request_id, ip, user_agent, break_glass,
                            chain_seq, prev_hash, content_hash, row_hash)
    SELECT CAST(:id AS uuid), CAST(:created_at AS timestamptz), CAST(:organization_id AS uuid),
           CAST(:actor_user_id AS uuid), CAST(:impersonator_user_id AS uuid), :action, :entity_type, :entity_id,
           CAST(:before AS jsonb), CAST(:after AS jsonb), CAST(:metadata AS jsonb), :request_id, CAST(:ip AS inet),
           :user_agent, CAST(:break_glass AS boolean), link.seq, link.prev_hash, :content_hash, link.head_hash
    FROM link
""")


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def _chain(session: AsyncSession, values: dict) -> None:
    """Hash the row's facts and content here, let the database link it into its chain, in one statement."""
    content = audit_chain.content_hash(
        before=values["before"], after=values["after"], metadata=values["metadata"], ip=values["ip"],
        user_agent=values["user_agent"],
    )  # fmt: skip
    digest = audit_chain.row_digest(
        id=values["id"], created_at=values["created_at"], organization_id=values["organization_id"],
        actor_user_id=values["actor_user_id"], impersonator_user_id=values["impersonator_user_id"],
        action=values["action"], entity_type=values["entity_type"], entity_id=values["entity_id"],
        request_id=values["request_id"], break_glass=values["break_glass"], content_hash=content,
    )  # fmt: skip
    await session.execute(_CHAINED_INSERT, values | {
        "before": _json(values["before"]), "after": _json(values["after"]), "metadata": _json(values["metadata"]),
        "chain_key": audit_chain.chain_key(values["organization_id"]), "genesis": audit_chain.GENESIS,
        "first_hash": audit_chain.link_hash(audit_chain.GENESIS, 1, digest), "digest": digest,
        "content_hash": content,
    })  # fmt: skip
