"""JSON shapes of the auth, sessions and /me API."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class LoginIn(BaseModel):
    """Body of POST /auth/login; `totp` (or a recovery code) when the account has two-factor on."""

    email: str = Field(max_length=254)
    password: str = Field(max_length=128)
    organization: str = Field(max_length=48, description="Organization slug or id the tokens are bound to")
    totp: str | None = Field(default=None, max_length=16)


class RefreshIn(BaseModel):
    """Body of POST /auth/refresh."""

    refresh_token: str = Field(max_length=100)


class TokensOut(BaseModel):
    """Access and refresh tokens; the raw tokens appear only in this answer."""

    token_type: str = "Bearer"
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    session_id: str
    organization_id: str


class TokenIn(BaseModel):
    """Body of POST /auth/verify-email: the token from the emailed link."""

    token: str = Field(max_length=128)


class ResetPasswordIn(BaseModel):
    """Body of POST /auth/reset-password: `email` asks for a link; `token` + `password` set the new password."""

    email: str | None = Field(default=None, max_length=254)
    token: str | None = Field(default=None, max_length=128)
    password: str | None = Field(default=None, max_length=256)


class SessionOut(BaseModel):
    """One live session of the caller."""

    id: str
    kind: str
    device: str
    ip: str | None
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    organization_id: str | None
    current: bool


class MeOut(BaseModel):
    """The caller's own account (no internal flags)."""

    id: str
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


class MePatch(BaseModel):
    """Body of PATCH /me: profile fields, and an email change (needs `current_password`)."""

    version: int | None = None
    name: str | None = Field(default=None, max_length=200)
    locale: str | None = Field(default=None, max_length=16)
    timezone: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=300)
    current_password: str | None = Field(default=None, max_length=128)
    end_other_sessions: bool = False


class PasswordChangeIn(BaseModel):
    """Body of POST /me/password."""

    current_password: str = Field(max_length=128)
    new_password: str = Field(max_length=256)
    end_other_sessions: bool = True


class MeDeleteIn(BaseModel):
    """Body of DELETE /me: the password again, and an optional reason."""

    current_password: str = Field(max_length=128)
    reason: str | None = Field(default=None, max_length=2000)


class EmailPreferencesIn(BaseModel):
    """Body of PATCH /me/preferences/email: category -> on/off."""

    preferences: dict[str, bool] = Field(max_length=20)
