"""JSON shapes of the webhook endpoints API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from webapp.core.openapi import VERSION, Body
from webapp.core.pagination import MAX_LIMIT


class EndpointIn(Body):
    """Body of POST …/webhook-endpoints: where to send and which events (none listed: every type)."""

    url: str = Field(min_length=1, max_length=2000, description="http(s) URL; in production https and public only")
    description: str = Field("", max_length=500)
    event_types: list[str] = Field(default_factory=list, max_length=50,
                                   description="Types from GET /webhook-event-types; empty: every type")  # fmt: skip
    enabled: bool = True


class EndpointPatch(Body):
    """Body of PATCH …/webhook-endpoints/:id: what to change; enabling again clears the failure clock."""

    version: VERSION | None = None
    url: str | None = Field(None, min_length=1, max_length=2000)
    description: str | None = Field(None, max_length=500)
    event_types: list[str] | None = Field(None, max_length=50)
    enabled: bool | None = None


class SecretOut(BaseModel):
    """A signing secret still in use: its hint and, after a rotation, when it stops signing."""

    hint: str
    created_at: datetime
    expires_at: datetime | None


class EndpointOut(BaseModel):
    """An endpoint (never its secret)."""

    id: uuid.UUID
    url: str
    description: str
    event_types: list[str]
    status: Literal["enabled", "disabled"]
    disabled_reason: Literal["manual", "failing", "gone"] | None
    disabled_at: datetime | None
    failing_since: datetime | None
    secrets: list[SecretOut]
    created_at: datetime
    version: int


class EndpointCreated(EndpointOut):
    """The answer to a create or a rotation: the one time the new secret is shown."""

    secret: str = Field(description="`whsec_…`: verify each delivery's `webhook-signature` with it")


class RecoverIn(Body):
    """Body of POST …/recover: resend every failed message since this moment (at most 14 days back)."""

    since: AwareDatetime


class Queued(BaseModel):
    """Messages queued for delivery."""

    messages: int
    message_id: str | None = None


class AttemptOut(BaseModel):
    """One HTTP request to the endpoint."""

    attempt: int
    trigger: Literal["schedule", "replay", "recover", "test"]
    started_at: datetime
    duration_ms: int
    url: str
    address: str | None
    response_status: int | None
    response_excerpt: str | None
    error: str | None
    succeeded: bool


class DeliveryOut(BaseModel):
    """One message to the endpoint and where its delivery stands."""

    id: uuid.UUID
    message_id: str
    event_type: str
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class DeliveryDetail(DeliveryOut):
    """A delivery with the exact payload sent and every attempt."""

    payload: dict
    attempt_log: list[AttemptOut]


class DeliveryQuery(BaseModel):
    """Query of the delivery log."""

    model_config = ConfigDict(extra="ignore")

    status: Literal["pending", "succeeded", "failed"] | None = Field(None, description="Only deliveries in this state")
    limit: int = Field(25, ge=1, le=MAX_LIMIT, description="Items per page")
    cursor: str | None = Field(None, description="`next_cursor` of the previous page")


class EventTypeOut(BaseModel):
    """An event type an endpoint may subscribe to."""

    type: str
    description: str
