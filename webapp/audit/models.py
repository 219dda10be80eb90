"""Signed checkpoints of the audit chains (audit_checkpoints): append-only."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, String, text
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
