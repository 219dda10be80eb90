"""roles, role_assignments and break_glass_activations (all tenant-owned, RLS)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
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
from webapp.iam.enums import BreakGlassStatus


class Role(UUIDPrimaryKey, TenantOwned, Timestamps, SoftDelete, Versioned, Base):
    """A role of one organization: a system role (grants from code) or a custom one (grants in `permissions`)."""

    __tablename__ = "roles"
    __table_args__ = (
        UniqueConstraint("organization_id", "id"),
        Index(
            "uq_roles_org_key_live", "organization_id", "key", unique=True, postgresql_where=text("deleted_at IS NULL")
        ),
        CheckConstraint("key ~ '^[a-z][a-z0-9_]{1,47}$'", name="key_format"),
        CheckConstraint("max_holders IS NULL OR max_holders > 0", name="max_holders_positive"),
        CheckConstraint("NOT (is_system AND break_glass)", name="system_roles_not_break_glass"),
        CheckConstraint("char_length(name) BETWEEN 1 AND 80", name="name_length"),
    )

    key: Mapped[str] = mapped_column(String(48))
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(String(300), server_default="")
    is_system: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    permissions: Mapped[list[str]] = mapped_column(ARRAY(String(60)), server_default=text("'{}'"))
    max_holders: Mapped[int | None] = mapped_column(Integer)
    break_glass: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class RoleAssignment(UUIDPrimaryKey, TenantOwned, Base):
    """An extra role for one member, optionally until a time and optionally for one mission only."""

    __tablename__ = "role_assignments"
    __table_args__ = (
        ForeignKeyConstraint(["organization_id", "role_id"], ["roles.organization_id", "roles.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(
            ["organization_id", "membership_id", "user_id"],
            ["memberships.organization_id", "memberships.id", "memberships.user_id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["organization_id", "mission_id"], ["missions.organization_id", "missions.id"], ondelete="CASCADE"
        ),
        Index("ix_role_assignments_membership_live", "membership_id", postgresql_where=text("revoked_at IS NULL")),
        Index("ix_role_assignments_role_live", "role_id", postgresql_where=text("revoked_at IS NULL")),
        CheckConstraint("char_length(reason) <= 500", name="reason_length"),
    )

    membership_id: Mapped[uuid.UUID] = mapped_column()
    user_id: Mapped[uuid.UUID] = mapped_column()
    role_id: Mapped[uuid.UUID] = mapped_column()
    mission_id: Mapped[uuid.UUID | None] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()
    reason: Mapped[str] = mapped_column(Text, server_default="")
    granted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class BreakGlassActivation(UUIDPrimaryKey, TenantOwned, Timestamps, Versioned, Base):
    """A request to hold a break-glass role for a while: reason, second member's approval, expiry, review."""

    __tablename__ = "break_glass_activations"
    __table_args__ = (
        ForeignKeyConstraint(["organization_id", "role_id"], ["roles.organization_id", "roles.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(
            ["organization_id", "membership_id", "user_id"],
            ["memberships.organization_id", "memberships.id", "memberships.user_id"],
            ondelete="CASCADE",
        ),
        Index("ix_break_glass_user_status", "user_id", "status"),
        CheckConstraint("char_length(reason) BETWEEN 20 AND 1000", name="reason_length"),
        CheckConstraint("minutes BETWEEN 5 AND 240", name="at_most_four_hours"),
        CheckConstraint("approved_by IS NULL OR approved_by <> user_id", name="second_person_approves"),
        CheckConstraint("expires_at IS NULL OR expires_at <= approved_at + interval '4 hours'", name="expiry_cap"),
    )

    membership_id: Mapped[uuid.UUID] = mapped_column()
    user_id: Mapped[uuid.UUID] = mapped_column()
    role_id: Mapped[uuid.UUID] = mapped_column()
    reason: Mapped[str] = mapped_column(Text)
    minutes: Mapped[int] = mapped_column(Integer)
    status: Mapped[BreakGlassStatus] = mapped_column(
        pg_enum(BreakGlassStatus, "break_glass_status"),
        server_default=BreakGlassStatus.PENDING.value,
    )
    approved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    review_notes: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column()
