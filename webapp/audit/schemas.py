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
    row_hash: str | None
    redacted_at: datetime | None = Field(description="When erasure replaced names and addresses in the content")
