"""JSON shapes of the privacy API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from webapp.privacy.enums import ConsentDecision, ConsentMethod, PolicyDocument


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
