"""JSON shapes of the organizations, members and invitations API."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class MemberOut(BaseModel):
    """A member with their main role."""

    user_id: str
    name: str
    email: str
    role_id: str
    role: str
    role_name: str
    mfa_enabled: bool
    joined_at: datetime
    version: int


class MemberPatch(BaseModel):
    """Body of PATCH .../members/:user_id: the new main role (and the version read, to catch stale writes)."""

    role_id: str
    version: int | None = None


class InvitationIn(BaseModel):
    """Body of POST .../members (and .../invitations): who, with which role."""

    email: str = Field(max_length=254)
    role_id: str


class InvitationOut(BaseModel):
    """A pending invitation (never its token)."""

    id: str
    email: str
    role_name: str
    expires_at: datetime
    expired: bool
    send_count: int
    created_at: datetime


class OrganizationIn(BaseModel):
    """Body of POST /organizations."""

    name: str = Field(max_length=200)
    slug: str | None = Field(default=None, max_length=100)


class OrganizationPatch(BaseModel):
    """Body of PATCH /organizations/:id; `status` is active or archived (suspension is for platform staff)."""

    version: int | None = None
    name: str | None = Field(default=None, max_length=200)
    slug: str | None = Field(default=None, max_length=100)
    require_mfa: bool | None = None
    status: str | None = Field(default=None, max_length=20)


class OrganizationOut(BaseModel):
    """An organization."""

    id: str
    slug: str
    name: str
    status: str
    require_mfa: bool
    created_at: datetime
    version: int
    role: str | None = None
