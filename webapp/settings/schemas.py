"""JSON shapes of settings."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from webapp.core.openapi import VERSION, Body
from webapp.settings.registry import REGISTRY

Value = bool | int | float | str


class SettingIn(Body):
    """Body of POST /organizations/:org/settings: a registered key and its new value at a scope."""

    key: Literal[tuple(REGISTRY)] = Field(description="a setting of the registry")  # type: ignore[valid-type]
    value: Value
    scope: Literal["organization", "system"] = Field(
        "organization", description="`system` (the platform's default) is for ClosedLoop staff only"
    )


class SettingPatch(Body):
    """Body of PATCH /settings/:id: the new value and the version read."""

    value: Value
    version: VERSION | None = None


class SettingOut(BaseModel):
    """A setting as the caller gets it: its effective value and where that comes from, and the row one level
    would edit (`id`, `version`; null while nothing is set there)."""

    key: str
    label: str
    description: str
    topic: str
    type: Literal["bool", "decimal", "choice"]
    scopes: list[Literal["system", "organization", "user"]]
    default: Value
    value: Value
    source: Literal["user", "organization", "system", "default"]
    id: uuid.UUID | None
    version: int | None
    unit: str
    minimum: float | None
    maximum: float | None
    choices: list[str]


class StoredSettingOut(BaseModel):
    """One stored value."""

    id: uuid.UUID
    key: str
    scope: Literal["system", "organization", "user"]
    value: Value
    version: int
