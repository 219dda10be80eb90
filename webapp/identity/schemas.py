"""JSON shapes of the auth, sessions and /me API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from webapp.core.openapi import VERSION, Body
from webapp.identity.enums import SessionKind
from webapp.privacy.enums import SubjectRequestStatus

Locale = Literal["en", "en-US", "en-GB"]
EmailCategoryName = Literal["approval_requests", "invitation_accepted"]


class LoginIn(Body):
    """Body of POST /auth/login; `totp` (or a recovery code) when the account has two-factor on."""

    email: str = Field(min_length=3, max_length=254, json_schema_extra={"format": "email"})
    password: str = Field(min_length=1, max_length=128)
    organization: str = Field(
        min_length=1, max_length=48, description="Organization address or id the tokens are bound to"
    )
    totp: str | None = Field(default=None, max_length=16)


class RefreshIn(Body):
    """Body of POST /auth/refresh."""

    refresh_token: str = Field(min_length=1, max_length=100)


class TokensOut(BaseModel):
    """Access and refresh tokens; the raw tokens appear only in this answer."""

    token_type: Literal["Bearer"] = "Bearer"
    access_token: str
    expires_in: int = Field(description="seconds")
    refresh_token: str
    refresh_expires_in: int = Field(description="seconds")
    session_id: uuid.UUID
    organization_id: uuid.UUID


class TokenIn(Body):
    """Body of POST /auth/verify-email: the token from the emailed link."""

    token: str = Field(min_length=1, max_length=128)


class ResetPasswordIn(Body):
    """Body of POST /auth/reset-password: `email` asks for a link; `token` + `password` set the new password."""

    email: str | None = Field(default=None, min_length=3, max_length=254, json_schema_extra={"format": "email"})
    token: str | None = Field(default=None, min_length=1, max_length=128)
    password: str | None = Field(default=None, min_length=1, max_length=256)


class MessageOut(BaseModel):
    """A sentence for people."""

    message: str


class SessionOut(BaseModel):
    """One live session of the caller."""

    id: uuid.UUID
    kind: SessionKind
    device: str
    ip: str | None
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    organization_id: uuid.UUID | None
    current: bool


class MeOut(BaseModel):
    """The caller's own account (no internal flags)."""

    id: uuid.UUID
    email: str
    email_verified: bool
    pending_email: str | None
    name: str
    locale: str
    timezone: str
    mfa_enabled: bool
    email_preferences: dict[str, bool]
    created_at: datetime
    version: int


class MePatch(Body):
    """Body of PATCH /me: profile fields, and an email change (needs `current_password`)."""

    version: VERSION | None = None
    name: str | None = Field(default=None, min_length=1, max_length=120)
    locale: Locale | None = None
    timezone: str | None = Field(
        default=None, min_length=1, max_length=64, description="an IANA zone, e.g. Europe/Paris"
    )
    email: str | None = Field(default=None, min_length=3, max_length=254, json_schema_extra={"format": "email"})
    current_password: str | None = Field(default=None, max_length=128)
    end_other_sessions: bool = False


class PasswordChangeIn(Body):
    """Body of POST /me/password."""

    current_password: str = Field(min_length=1, max_length=128)
    new_password: str = Field(min_length=1, max_length=256)
    end_other_sessions: bool = True


class MeDeleteIn(Body):
    """Body of DELETE /me: the password again, and an optional reason."""

    current_password: str = Field(min_length=1, max_length=128)
    reason: str | None = Field(default=None, max_length=2000)


class EmailPreferencesIn(Body):
    """Body of PATCH /me/preferences/email: category -> on/off."""

    preferences: dict[EmailCategoryName, bool] = Field(max_length=20)


class EmailPreferencesOut(BaseModel):
    """Every optional email category's setting, and what is always sent."""

    preferences: dict[str, bool]
    always_sent: str


class DeletionRequestOut(BaseModel):
    """The deletion request an account deactivation records."""

    id: uuid.UUID
    status: SubjectRequestStatus
    due_at: datetime


class DeactivatedOut(BaseModel):
    """The answer to DELETE /me."""

    deletion_request: DeletionRequestOut
