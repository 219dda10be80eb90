"""users and auth_sessions (global tables: a user spans organizations)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import Base, SoftDelete, Timestamps, UUIDPrimaryKey, Versioned
from webapp.core.enums import pg_enum
from webapp.identity.enums import AuthTokenKind, SessionKind, TokenPurpose, UserStatus


class User(UUIDPrimaryKey, Timestamps, SoftDelete, Versioned, Base):
    """A person who signs in; the email is unique among non-deleted users (case-insensitive)."""

    __tablename__ = "users"
    __table_args__ = (
        Index(
            "uq_users_email_live", func.lower(text("email")), unique=True, postgresql_where=text("deleted_at IS NULL")
        ),
    )

    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(Text)
    status: Mapped[UserStatus] = mapped_column(
        pg_enum(UserStatus, "user_status"), server_default=UserStatus.ACTIVE.value
    )
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    email_verified_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    mfa_secret: Mapped[str | None] = mapped_column(Text)  # Fernet-encrypted TOTP secret
    mfa_enabled_at: Mapped[datetime | None]
    mfa_last_step: Mapped[int | None] = mapped_column(BigInteger)  # last accepted TOTP step: no replay
    deactivated_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]  # erasure replaced the person by a pseudonym (webapp.privacy.erasure)


class AuthSession(UUIDPrimaryKey, Base):
    """A browser session; the cookie carries a random token whose SHA-256 is stored here."""

    __tablename__ = "auth_sessions"
    __table_args__ = (
        Index("ix_auth_sessions_user_live", "user_id", postgresql_where=text("revoked_at IS NULL")),
        Index("ix_auth_sessions_organization", "organization_id", postgresql_where=text("organization_id IS NOT NULL")),
        CheckConstraint("kind = 'browser' OR organization_id IS NOT NULL", name="api_session_has_org"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(60))
    ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[SessionKind] = mapped_column(
        pg_enum(SessionKind, "session_kind"), server_default=SessionKind.BROWSER.value
    )
    # API sessions are minted for one organization; their tokens act only inside it
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # set at sign-in when a document that needs consent has a version the person has not accepted: the browser is
    # asked before anything else (webapp.privacy.consents); cleared once they accept
    consent_due: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # a session staff use to act as this user (webapp.support.impersonation): the staff member, and the record
    impersonator_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    impersonation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("impersonation_sessions.id", ondelete="CASCADE")
    )


class AuthToken(UUIDPrimaryKey, Base):
    """A bearer token of an API session (`cl_at_` access, `cl_rt_` refresh); only its SHA-256 is stored.

    The session is the refresh-token family: presenting a refresh token that was already rotated
    revokes the session, and with it every token of the family.
    """

    __tablename__ = "auth_tokens"
    __table_args__ = (Index("ix_auth_tokens_session", "session_id"),)

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("auth_sessions.id", ondelete="CASCADE"))
    kind: Mapped[AuthTokenKind] = mapped_column(pg_enum(AuthTokenKind, "auth_token_kind"))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]  # refresh tokens: when it was exchanged (once only)


class EmailToken(UUIDPrimaryKey, Base):
    """A single-use link sent by email; only its SHA-256 is stored."""

    __tablename__ = "email_tokens"
    __table_args__ = (
        Index("ix_email_tokens_user_purpose_live", "user_id", "purpose", postgresql_where=text("used_at IS NULL")),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[TokenPurpose] = mapped_column(pg_enum(TokenPurpose, "token_purpose"))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    email: Mapped[str] = mapped_column(String(254))  # the address the link was sent to
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class MfaRecoveryCode(UUIDPrimaryKey, Base):
    """One single-use recovery code (SHA-256 of a 50-bit random code), shown to the user once."""

    __tablename__ = "mfa_recovery_codes"
    __table_args__ = (Index("ix_mfa_recovery_codes_user_live", "user_id", postgresql_where=text("used_at IS NULL")),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    used_at: Mapped[datetime | None]
