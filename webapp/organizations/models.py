"""organizations (tenant root) and memberships (tenant-owned, RLS)."""
from __future__ import annotations

import uuid

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import Base, SoftDelete, TenantOwned, Timestamps, UUIDPrimaryKey, Versioned
from webapp.core.enums import pg_enum
from webapp.core.permissions import SystemRole
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
    require_mfa: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class Membership(UUIDPrimaryKey, TenantOwned, Timestamps, SoftDelete, Versioned, Base):
    """A user's place in an organization, with the system role it holds."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("organization_id", "id"),
        Index(
            "uq_memberships_org_user_live", "organization_id", "user_id",
            unique=True, postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_memberships_user", "user_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[SystemRole] = mapped_column(pg_enum(SystemRole, "system_role"))
