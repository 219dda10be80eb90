"""privacy_subject_requests: what a person asked us to do with their data, and when it is due."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import Base, Timestamps, UUIDPrimaryKey, Versioned
from webapp.core.enums import pg_enum
from webapp.privacy.enums import SubjectRequestStatus, SubjectRequestType


class PrivacySubjectRequest(UUIDPrimaryKey, Timestamps, Versioned, Base):
    """One access or deletion request of a user (account-wide: organization_id is NULL for those)."""

    __tablename__ = "privacy_subject_requests"
    __table_args__ = (
        Index(
            "ix_privacy_subject_requests_open", "due_at", postgresql_where=text("status IN ('pending', 'in_progress')")
        ),
        Index("ix_privacy_subject_requests_user", "user_id"),
        CheckConstraint("due_at > requested_at", name="due_after_request"),
    )

    # SET NULL: the request outlives the erased user row; subject_email says whose it was
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    subject_email: Mapped[str] = mapped_column(String(254))
    request_type: Mapped[SubjectRequestType] = mapped_column(pg_enum(SubjectRequestType, "subject_request_type"))
    status: Mapped[SubjectRequestStatus] = mapped_column(
        pg_enum(SubjectRequestStatus, "subject_request_status"), server_default=SubjectRequestStatus.PENDING.value
    )
    reason: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    due_at: Mapped[datetime]  # GDPR Art. 12(3): one month
    processed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    processed_at: Mapped[datetime | None]
