"""JSON shapes of the system-check API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from webapp.core.openapi import Body
from webapp.ops.enums import CheckStatus, StepName


class CheckRequest(Body):
    """Body of POST .../system-checks: which steps (all when omitted or empty)."""

    steps: list[StepName] | None = Field(default=None, max_length=8)


class CheckStep(BaseModel):
    """One step's outcome."""

    name: StepName
    status: str = Field(description="pending, ok or failed")
    detail: str | None = None
    elapsed_ms: float | None = None


class CheckOut(BaseModel):
    """A system check as the API returns it."""

    id: uuid.UUID
    organization_id: uuid.UUID
    status: CheckStatus
    progress: int = Field(ge=0, le=100)
    attempt: int
    steps: list[CheckStep]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
