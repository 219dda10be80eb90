"""JSON shapes of the API keys API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from webapp.core.openapi import VERSION, Body
from webapp.core.permissions import Perm


class ApiKeyIn(Body):
    """Body of POST .../api-keys: a name, the scopes (permissions you hold), and an optional expiry."""

    name: str = Field(min_length=1, max_length=80)
    permissions: list[Perm] = Field(min_length=1, max_length=100)
    expires_at: AwareDatetime | None = Field(None, description="null: the key never expires")


class ApiKeyPatch(Body):
    """Body of PATCH .../api-keys/:id."""

    version: VERSION | None = None
    name: str | None = Field(default=None, min_length=1, max_length=80)
    enabled: bool | None = None
    expires_at: AwareDatetime | None = Field(None, description="null: never expires")


class ApiKeyOut(BaseModel):
    """A key as listed (never its secret)."""

    id: uuid.UUID
    name: str
    prefix: str
    permissions: list[str]
    enabled: bool
    expires_at: datetime | None
    last_used_at: datetime | None
    user_id: uuid.UUID
    created_at: datetime
    version: int


class ApiKeyCreated(ApiKeyOut):
    """The answer to a create: the one time the secret is shown."""

    key: str = Field(description="the secret (`cl_live_…`); only a hash is kept")
