"""JSON shapes of the system-check API."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class CheckRequest(BaseModel):
    """Body of POST .../system-checks: which steps (all when omitted)."""

    steps: list[str] | None = Field(default=None, max_length=8)


class CheckStep(BaseModel):
    """One step's outcome."""

    name: str
    status: str
    detail: str | None = None
    elapsed_ms: float | None = None


class CheckOut(BaseModel):
    """A system check as the API returns it."""

    id: str
    organization_id: str
    status: str
    progress: int
    attempt: int
    steps: list[CheckStep]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class CheckList(BaseModel):
    """A page of checks."""

    items: list[CheckOut]
    next_cursor: str | None
