"""JSON shapes of the audit API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class AuditRowOut(BaseModel):
    """One audit row: who did what to which entity, when and from where, and its place in the hash chain."""

    id: uuid.UUID
    created_at: datetime
    organization_id: uuid.UUID | None
    action: str
    entity_type: str
    entity_id: str | None
    actor_user_id: uuid.UUID | None
    actor_name: str | None
    impersonator_user_id: uuid.UUID | None = Field(description="Set while staff impersonated the actor")
    ip: str | None
    user_agent: str | None
    request_id: str | None
    break_glass: bool
    before: dict | list | None
    after: dict | list | None
    metadata: dict | list | None
    chain_seq: int | None = Field(description="Place in the organization's hash chain (docs/audit.md)")
    prev_hash: str | None = Field(description="The previous row's row_hash (64 zeros for a chain's first row)")
    content_hash: str | None = Field(description="SHA-256 of the canonical before/after/metadata/ip/user_agent")
    row_hash: str | None
    redacted_at: datetime | None = Field(description="When erasure replaced names and addresses in the content")


class CheckpointOut(BaseModel):
    """One signed chain head: the signature (Ed25519, hex) covers canonical JSON of chain, seq, head_hash and
    signed_at."""

    seq: int
    head_hash: str
    signed_at: str = Field(description="ISO 8601 in UTC with microseconds, exactly as signed")
    key_id: str
    signature: str


class AnchorOut(BaseModel):
    """Where the chain starts after retention archived its beginning."""

    seq: int
    row_hash: str


class CheckpointBundleOut(BaseModel):
    """Everything besides the rows that verifying the organization's chain offline needs (docs/audit.md)."""

    chain: uuid.UUID
    generated_at: str
    public_key_pem: str | None = Field(description="The platform's Ed25519 public key; null when not signing")
    key_id: str | None
    anchor: AnchorOut | None
    checkpoints: list[CheckpointOut]
