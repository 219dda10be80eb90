"""organizations (tenant root) and memberships (tenant-owned, RLS)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import (
    Base,
    SoftDelete,
    TenantOwned,
    Timestamps,
    UUIDPrimaryKey,
    Versioned,
)
from webapp.core.enums import pg_enum
from webapp.organizations.enums import OrgStatus


class Organization(UUIDPrimaryKey, Timestamps, SoftDelete, Versioned, Base):
    """A tenant: everything else hangs off its id."""

    __tablename__ = "organizations"
    __table_args__ = (
        Index("uq_organizations_slug_live", "slug", unique=True, postgresql_where=text("deleted_at IS NULL")),
        CheckConstraint("slug ~ '^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$'", name="slug_format"),
    )

    slug: Mapped[str] = mapped_column(String(48))
    name: Mapped[str] = mapped_column(String(120))
    status: Mapped[OrgStatus] = mapped_column(pg_enum(OrgStatus, "org_status"), server_default=OrgStatus.ACTIVE.value)


class Membership(UUIDPrimaryKey, TenantOwned, Timestamps, SoftDelete, Versioned, Base):
    """A user's place in an organization, with its main role (extra roles are role assignments)."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("organization_id", "id"),
        UniqueConstraint("organization_id", "id", "user_id"),  # target of children that also carry user_id
        ForeignKeyConstraint(["organization_id", "role_id"], ["roles.organization_id", "roles.id"]),
        Index("ix_memberships_role", "role_id"),
        Index(
            "uq_memberships_org_user_live",
            "organization_id",
            "user_id",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_memberships_user", "user_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role_id: Mapped[uuid.UUID] = mapped_column()


class Invitation(UUIDPrimaryKey, TenantOwned, Timestamps, Versioned, Base):
    """An emailed, expiring invitation to join with a role; the link carries a token stored as SHA-256."""

    __tablename__ = "invitations"
    __table_args__ = (
        ForeignKeyConstraint(["organization_id", "role_id"], ["roles.organization_id", "roles.id"], ondelete="CASCADE"),
        Index(
            "uq_invitations_pending_email",
            "organization_id",
            text("lower(email)"),
            unique=True,
            postgresql_where=text("accepted_at IS NULL AND revoked_at IS NULL"),
        ),
        CheckConstraint("char_length(email) BETWEEN 3 AND 254", name="email_length"),
        CheckConstraint("NOT (accepted_at IS NOT NULL AND revoked_at IS NOT NULL)", name="accepted_or_revoked"),
        CheckConstraint("send_count >= 1", name="sent_at_least_once"),
    )

    email: Mapped[str] = mapped_column(String(254))
    role_id: Mapped[uuid.UUID] = mapped_column()
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    invited_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime] = mapped_column()
    send_count: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    accepted_at: Mapped[datetime | None] = mapped_column()
    accepted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column()
