"""support_access_grants (an organization lets staff in, for a while), staff_break_glass (a staff member's
emergency access, approved by a second one) and impersonation_sessions (who was in whose account, why, and when)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import Base, TenantOwned, UUIDPrimaryKey
from webapp.core.enums import pg_enum
from webapp.iam.enums import BreakGlassStatus


class SupportAccessGrant(UUIDPrimaryKey, TenantOwned, Base):
    """An organization admin lets staff into the organization's accounts until expires_at (at most 30 days),
    or until someone revokes it."""

    __tablename__ = "support_access_grants"
    __table_args__ = (
        Index(
            "ix_support_access_grants_live",
            "organization_id",
            "expires_at",
            postgresql_where=text("revoked_at IS NULL"),
        ),
        CheckConstraint("expires_at > created_at", name="ends_after_start"),
        CheckConstraint("expires_at <= created_at + interval '30 days 1 minute'", name="at_most_30_days"),
        CheckConstraint("(revoked_at IS NULL) = (revoked_by IS NULL)", name="revocation_names_who"),
    )

    granted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class StaffBreakGlass(UUIDPrimaryKey, Base):
    """A staff member's emergency access (needed to impersonate anyone): asked with a reason, approved by another
    staff member, ends by itself. Staff only (row-level security)."""

    __tablename__ = "staff_break_glass"
    __table_args__ = (
        Index("ix_staff_break_glass_user", "user_id", "created_at"),
        CheckConstraint("minutes BETWEEN 5 AND 240", name="minutes_in_range"),
        CheckConstraint("approved_by IS NULL OR approved_by <> user_id", name="second_person_approves"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    minutes: Mapped[int] = mapped_column(Integer)
    status: Mapped[BreakGlassStatus] = mapped_column(
        pg_enum(BreakGlassStatus, "break_glass_status"), server_default=BreakGlassStatus.PENDING.value
    )
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    approved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class ImpersonationSession(UUIDPrimaryKey, TenantOwned, Base):
    """Staff acting as a user of the organization (whose admins see every one of these), under a support-access
    window and a staff break-glass grant, with a reason and a ticket; at most one hour, never extended."""

    __tablename__ = "impersonation_sessions"
    __table_args__ = (
        Index("ix_impersonation_sessions_live", "staff_user_id", postgresql_where=text("ended_at IS NULL")),
        CheckConstraint("expires_at <= started_at + interval '1 hour'", name="at_most_one_hour"),
        CheckConstraint("(ended_at IS NULL) = (end_reason IS NULL)", name="end_has_a_reason"),
    )

    staff_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    staff_name: Mapped[str] = mapped_column(String(200))  # copied: the organization cannot read staff accounts
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    grant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("support_access_grants.id", ondelete="CASCADE"))
    break_glass_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_break_glass.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text)
    ticket: Mapped[str] = mapped_column(String(100))
    ip: Mapped[str | None] = mapped_column(INET)
    started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(30))  # exit | expired | access_revoked | break_glass_ended
    user_notified_at: Mapped[datetime | None]
