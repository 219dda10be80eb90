"""JSON shapes of the security API: events, incidents and their changes."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from webapp.core.openapi import VERSION, Body
from webapp.security.enums import IncidentSeverity, IncidentStatus, Severity


class SecurityEventOut(BaseModel):
    """One security event: what happened, to whom, from where, when."""

    id: uuid.UUID
    created_at: datetime
    organization_id: uuid.UUID | None
    user_id: uuid.UUID | None
    user_email: str | None
    event_type: str
    severity: Severity
    ip: str | None
    user_agent: str | None
    request_id: str | None
    metadata: dict


class TimelineEntryOut(BaseModel):
    """One step of an incident's timeline."""

    at: datetime
    actor_id: uuid.UUID | None = Field(description="null: a detection rule")
    actor_name: str | None
    kind: str = Field(description="opened, transition, note, assigned, severity, breach or linked")
    from_status: IncidentStatus | None
    to_status: IncidentStatus | None
    body: str


class IncidentOut(BaseModel):
    """An incident: where it stands, who owns it, when it happened and was logged, how long each step took."""

    id: uuid.UUID
    title: str
    summary: str
    severity: IncidentSeverity
    status: IncidentStatus
    allowed_next: list[IncidentStatus] = Field(description="The states it may move to now")
    rule: str | None = Field(description="The detection rule that opened it; null: reported by a person")
    detected_at: datetime = Field(description="When it happened (its first event)")
    created_at: datetime = Field(description="When it was logged")
    updated_at: datetime
    reported_by: uuid.UUID | None
    assigned_to: uuid.UUID | None
    acknowledged_at: datetime | None
    contained_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    time_to_acknowledge_seconds: int | None
    time_to_resolve_seconds: int | None
    personal_data_breach: bool
    breach_flagged_at: datetime | None
    notify_authority_by: datetime | None = Field(description="72 hours after the breach flag (GDPR Art. 33)")
    authority_notified_at: datetime | None
    event_count: int
    organization_ids: list[uuid.UUID] | None = None
    timeline: list[TimelineEntryOut] | None = None
    version: int


Reason = Field(max_length=10_000)


class IncidentIn(Body):
    """Body of POST /security/incidents: report an incident by hand."""

    title: str = Field(min_length=3, max_length=200)
    severity: IncidentSeverity
    summary: str = Field("", max_length=10_000)
    detected_at: AwareDatetime | None = Field(None, description="When it happened; default now")
    assigned_to: uuid.UUID | None = None
    organization_ids: list[uuid.UUID] = Field([], max_length=100)
    event_ids: list[uuid.UUID] = Field([], max_length=1000)
    personal_data_breach: bool = False


class IncidentPatch(Body):
    """Body of PATCH /security/incidents/{id}: a transition and/or other changes, and the version read."""

    version: VERSION | None = None
    status: IncidentStatus | None = Field(None, description="409 when the workflow does not allow it")
    note: str | None = Field(None, max_length=10_000, description="Required to mark false_positive or close")
    severity: IncidentSeverity | None = None
    assigned_to: uuid.UUID | None = Field(None, description="null unassigns (send it explicitly)")
    personal_data_breach: bool | None = None
    authority_notified: bool | None = Field(None, description="true records that the authority was notified")
    organization_ids: list[uuid.UUID] = Field([], max_length=100)
    event_ids: list[uuid.UUID] = Field([], max_length=1000)
