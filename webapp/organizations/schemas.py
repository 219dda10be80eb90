"""JSON shapes of the members and invitations API."""
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
