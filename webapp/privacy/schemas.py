"""JSON shapes of the privacy API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from webapp.privacy.enums import (
    ConsentDecision,
    ConsentMethod,
    PolicyDocument,
    SubjectRequestStatus,
    SubjectRequestType,
)


class VersionOut(BaseModel):
    """One published version of a document."""

    document: PolicyDocument
    version: int
    title: str
    effective_at: datetime
    requires_consent: bool = Field(description="People must accept this version to use ClosedLoop")
    text_hash: str = Field(description="SHA-256 (hex) of the version's exact text")
    url: str = Field(description="Where the text is published")


class DecisionOut(BaseModel):
    """One decision a person made about one version, with its proof."""

    id: uuid.UUID
    document: PolicyDocument
    version: int
    decision: ConsentDecision
    decided_at: datetime
    method: ConsentMethod
    ip: str | None
    user_agent: str | None
    proof_hash: str = Field(description="SHA-256 over the canonical record of this decision (docs/privacy.md)")


class StandingOut(BaseModel):
    """Where you stand with one document."""

    document: PolicyDocument
    label: str
    purpose: str
    current: VersionOut
    granted: bool = Field(description="Your latest decision about this document is yes")
    due: bool = Field(description="The version in effect needs your consent and does not have it yet")
    latest: DecisionOut | None


class ConsentsOut(BaseModel):
    """Your consents: each document in effect, and every decision you made, newest first."""

    documents: list[StandingOut]
    history: list[DecisionOut]


class ConsentIn(BaseModel):
    """Grant or withdraw consent to the version of a document in effect."""

    model_config = ConfigDict(extra="forbid")

    document: PolicyDocument
    granted: bool = Field(description="true grants, false withdraws (documents that must be accepted: 409)")
    version: int | None = Field(
        default=None, ge=1, le=10_000, description="The version you read; 409 when it is no longer the one in effect"
    )


class SubjectRequestIn(BaseModel):
    """An access or deletion request; send `{}` or a reason."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=2000, description="Why (optional; staff read it)")


class RequestStepOut(BaseModel):
    """One step of a request."""

    at: datetime
    status: SubjectRequestStatus
    note: str
    by: Literal["you", "staff", "worker"]


class SubjectRequestOut(BaseModel):
    """One of your privacy requests, with every step it went through."""

    id: uuid.UUID
    type: SubjectRequestType
    status: SubjectRequestStatus = Field(
        description="received (confirm it by the emailed link) → identity_verified → in_progress → completed; or "
        "denied, failed, canceled"
    )
    status_reason: str | None = Field(description="Why it was denied or failed, or what it waits for")
    requested_at: datetime
    due_at: datetime = Field(description="One month after receipt; once extendable by two months with a reason")
    extension_reason: str | None
    verified_at: datetime | None
    completed_at: datetime | None
    archive_url: str | None = Field(description="Access requests: where to download the export while it lasts")
    archive_expires_at: datetime | None
    steps: list[RequestStepOut]


class SubjectRequestsOut(BaseModel):
    """Your privacy requests, newest first."""

    items: list[SubjectRequestOut]
