"""JSON shapes of the roles, permissions and assignments API."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class PermissionOut(BaseModel):
    """One entry of the permission catalog."""

    name: str
    description: str


class RoleIn(BaseModel):
    """Body of POST .../roles."""

    name: str = Field(max_length=80)
    description: str = Field(default="", max_length=300)
    permissions: list[str] = Field(max_length=100)
    max_holders: int | None = None
    break_glass: bool = False


class RolePatch(BaseModel):
    """Body of PATCH .../roles/:id: the version read, and any fields to change."""

    version: int
    name: str | None = Field(default=None, max_length=80)
    description: str | None = Field(default=None, max_length=300)
    permissions: list[str] | None = Field(default=None, max_length=100)
    max_holders: int | None = None
    break_glass: bool | None = None


class RoleOut(BaseModel):
    """A role with its grants and holder count."""

    id: str
    key: str
    name: str
    description: str
    is_system: bool
    break_glass: bool
    permissions: list[str]
    max_holders: int | None
    holders: int
    version: int


class AssignmentIn(BaseModel):
    """Body of POST .../assignments."""

    user_id: str
    role_id: str
    mission_id: str | None = Field(None, description="only for this mission (default: the whole organization)")
    expires_at: datetime | None = None
    reason: str = Field(default="", max_length=500)


class AssignmentOut(BaseModel):
    """A live role assignment."""

    id: str
    user_id: str
    user_name: str
    role_id: str
    role_name: str
    mission_id: str | None
    expires_at: datetime | None
    reason: str
    created_at: datetime
