"""JSON shapes of the API keys API."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ApiKeyIn(BaseModel):
    """Body of POST .../api-keys."""

    name: str = Field(max_length=80)
    permissions: list[str] = Field(max_length=100)
    expires_at: datetime | None = None


class ApiKeyPatch(BaseModel):
    """Body of PATCH .../api-keys/:id."""

    version: int | None = None
    name: str | None = Field(default=None, max_length=80)
    enabled: bool | None = None
    expires_at: datetime | None = None


class ApiKeyOut(BaseModel):
    """A key as listed (never its secret)."""

    id: str
    name: str
    prefix: str
    permissions: list[str]
    enabled: bool
    expires_at: datetime | None
    last_used_at: datetime | None
    user_id: str
    created_at: datetime
    version: int


class ApiKeyCreated(ApiKeyOut):
    """The answer to a create: the one time the secret is shown."""

    key: str
