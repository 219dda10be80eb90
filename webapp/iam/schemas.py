"""JSON shapes of the roles, permissions and assignments API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from webapp.core.openapi import VERSION, Body, whole
from webapp.core.permissions import Perm

PermissionName = Perm  # the catalog, as an enum: an unknown permission is refused by the schema


class PermissionOut(BaseModel):
    """One entry of the permission catalog."""

    name: Perm
    description: str


class RoleIn(Body):
    """Body of POST .../roles."""

    name: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=300)
    permissions: list[PermissionName] = Field(min_length=1, max_length=100)
    max_holders: whole(1, 100_000) | None = Field(None, description="null: no limit")
    break_glass: bool = False


class RolePatch(Body):
    """Body of PATCH .../roles/:id: the version read, and any fields to change."""

    version: VERSION
    name: str | None = Field(default=None, min_length=1, max_length=80)
    description: str | None = Field(default=None, max_length=300)
    permissions: list[PermissionName] | None = Field(default=None, min_length=1, max_length=100)
    max_holders: whole(1, 100_000) | None = Field(None, description="null: no limit")
    break_glass: bool | None = None


class RoleOut(BaseModel):
    """A role with its grants and holder count."""

    id: uuid.UUID
    key: str
    name: str
    description: str
    is_system: bool
    break_glass: bool
    permissions: list[str]
    max_holders: int | None
    holders: int
    version: int


class AssignmentIn(Body):
    """Body of POST .../assignments."""

    user_id: uuid.UUID
    role_id: uuid.UUID
    mission_id: uuid.UUID | None = Field(None, description="only for this mission (default: the whole organization)")
    expires_at: AwareDatetime | None = None
    reason: str = Field(default="", max_length=500)


class AssignmentOut(BaseModel):
    """A live role assignment."""

    id: uuid.UUID
    user_id: uuid.UUID
    user_name: str
    role_id: uuid.UUID
    role_name: str
    mission_id: uuid.UUID | None
    expires_at: datetime | None
    reason: str
    created_at: datetime
