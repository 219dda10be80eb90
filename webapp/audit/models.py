"""Signed checkpoints of the audit chains (append-only), verification runs, archives of retired months and the anchors
chains continue from after retention."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import Base, UUIDPrimaryKey


class AuditCheckpoint(UUIDPrimaryKey, Base):
    """A chain's head at one moment, signed with the platform's Ed25519 key: whoever holds the public key can
    prove later that the chain had exactly these rows up to `seq` — even against someone able to rewrite the
    database, heads included."""

    __tablename__ = "audit_checkpoints"
    __table_args__ = (Index("ix_audit_checkpoints_chain", "chain_key", "seq"),)

    chain_key: Mapped[uuid.UUID]
    seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    key_id: Mapped[str] = mapped_column(String(16))  # the first 16 hex of the public key's SHA-256
    signature: Mapped[str] = mapped_column(String(128))  # hex of the 64-byte Ed25519 signature


class AuditVerification(UUIDPrimaryKey, Base):
    """One run of the verifier over one chain — asked for by staff or by the daily schedule — and what it found:
    the first row that does not hold, or none. Staff only (row-level security: the audited bypass)."""

    __tablename__ = "audit_verifications"
    __table_args__ = (
        Index("ix_audit_verifications_chain", "chain_key", "created_at"),
        CheckConstraint("status IN ('queued', 'running', 'ok', 'broken', 'failed')", name="status_known"),
    )

    chain_key: Mapped[uuid.UUID]
    requested_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), server_default="queued")
    rows: Mapped[int] = mapped_column(BigInteger, server_default="0")
    redacted: Mapped[int] = mapped_column(BigInteger, server_default="0")
    head_seq: Mapped[int] = mapped_column(BigInteger, server_default="0")
    broken_seq: Mapped[int | None] = mapped_column(BigInteger)
    broken_row_id: Mapped[uuid.UUID | None]
    problem: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class AuditArchive(UUIDPrimaryKey, Base):
    """One month of the audit log exported to object storage (gzip JSON Lines, the export's format) before its
    partition is detached and dropped by retention. Staff only."""

    __tablename__ = "audit_archives"

    partition: Mapped[str] = mapped_column(String(63), unique=True)
    range_start: Mapped[datetime]
    range_end: Mapped[datetime]
    rows: Mapped[int] = mapped_column(BigInteger)
    object_key: Mapped[str] = mapped_column(String(300))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    dropped_at: Mapped[datetime | None]


class AuditChainAnchor(Base):
    """Where a chain continues after retention archived its beginning: the last archived row's sequence number and
    hash. The verifier starts there instead of at the genesis hash. Append-only; hashes only, no personal data."""

    __tablename__ = "audit_chain_anchors"

    chain_key: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    row_hash: Mapped[str] = mapped_column(String(64))
    archive_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("audit_archives.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
