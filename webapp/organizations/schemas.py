"""JSON shapes of the organizations, members and invitations API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from webapp.core.openapi import VERSION, Body
from webapp.organizations.enums import OrgStatus

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$"


class MemberOut(BaseModel):
    """A member with their main role."""

    user_id: uuid.UUID
    name: str
    email: str
    role_id: uuid.UUID
    role: str = Field(description="the role's key (owner, admin, … or a custom role's)")
    role_name: str
    mfa_enabled: bool
    joined_at: datetime
    version: int


class MemberPatch(Body):
    """Body of PATCH .../members/:user_id: the new main role (and the version read, to catch stale writes)."""

    role_id: uuid.UUID
    version: VERSION | None = None


class InvitationIn(Body):
    """Body of POST .../invitations (and .../members): who, with which role."""

    email: str = Field(min_length=3, max_length=254, json_schema_extra={"format": "email"})
    role_id: uuid.UUID


class InvitationOut(BaseModel):
    """A pending invitation (never its token)."""

    id: uuid.UUID
    email: str
    role_name: str
    expires_at: datetime
    expired: bool
    send_count: int
    created_at: datetime


class OrganizationIn(Body):
    """Body of POST /organizations; `slug` (the address) defaults to one made from the name."""

    name: str = Field(min_length=1, max_length=120)
    slug: str | None = Field(default=None, pattern=SLUG_PATTERN)


class OrganizationPatch(Body):
    """Body of PATCH /organizations/:id; `status` is active or archived (suspension is for platform staff)."""

    version: VERSION | None = None
    name: str | None = Field(default=None, min_length=1, max_length=120)
    slug: str | None = Field(default=None, pattern=SLUG_PATTERN)
    require_mfa: bool | None = None
    status: Literal["active", "archived"] | None = None


class OrganizationOut(BaseModel):
    """An organization."""

    id: uuid.UUID
    slug: str
    name: str
    status: OrgStatus
    require_mfa: bool
    created_at: datetime
    version: int
    role: str | None = Field(None, description="the caller's main role in it")


class OrganizationListed(BaseModel):
    """An organization in a list: the caller's own (with their role), or every one for platform staff (with its
    member count)."""

    id: uuid.UUID
    slug: str
    name: str
    status: OrgStatus
    require_mfa: bool
    role: str | None = Field(None, description="the caller's main role (their own organizations)")
    members: int | None = Field(None, description="live members (scope=all)")
    created_at: datetime | None = Field(None, description="scope=all")


class OrganizationsQuery(BaseModel):
    """Query of GET /organizations."""

    model_config = ConfigDict(extra="ignore")

    scope: Literal["all"] | None = Field(None, description="platform staff: every organization (audited)")
    status: OrgStatus | None = Field(None, description="with scope=all")
    q: str | None = Field(None, max_length=200, description="with scope=all: part of the name or address")
