"""Privacy: what a person asked us to do with their data and when it is due (privacy_subject_requests); the
documents they are asked to accept, by version (privacy_policy_versions); and each decision they made about one,
with what proves it (privacy_user_consents)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import Base, Timestamps, UUIDPrimaryKey, Versioned
from webapp.core.enums import pg_enum
from webapp.privacy.enums import (
    ConsentDecision,
    ConsentMethod,
    DataCategory,
    ErasureAction,
    LawfulBasis,
    PolicyDocument,
    SubjectRequestStatus,
    SubjectRequestType,
)


class PrivacySubjectRequest(UUIDPrimaryKey, Timestamps, Versioned, Base):
    """One access or deletion request of a user: its state, who moved it and when (privacy_request_events holds
    every step), its due date (one month, extendable once by two), and for access the archive it produced."""

    __tablename__ = "privacy_subject_requests"
    __table_args__ = (
        Index(
            "ix_privacy_subject_requests_open",
            "due_at",
            postgresql_where=text("status IN ('received', 'identity_verified', 'in_progress')"),
        ),
        Index("ix_privacy_subject_requests_user", "user_id"),
        CheckConstraint("due_at > requested_at", name="due_after_request"),
        CheckConstraint("(extended_at IS NULL) = (extension_reason IS NULL)", name="extension_has_a_reason"),
        CheckConstraint("status <> 'denied' OR status_reason IS NOT NULL", name="denial_has_a_reason"),
    )

    # SET NULL: the request outlives the erased user row; subject_email (pseudonymised by erasure) says whose it was
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    subject_email: Mapped[str] = mapped_column(String(254))
    request_type: Mapped[SubjectRequestType] = mapped_column(pg_enum(SubjectRequestType, "subject_request_type"))
    status: Mapped[SubjectRequestStatus] = mapped_column(
        pg_enum(SubjectRequestStatus, "subject_request_state"), server_default=SubjectRequestStatus.RECEIVED.value
    )
    reason: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    due_at: Mapped[datetime]  # GDPR Art. 12(3): one month, once two more with a reason
    verified_at: Mapped[datetime | None]
    verification_method: Mapped[str | None] = mapped_column(String(20))  # password | email_link
    started_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    status_reason: Mapped[str | None] = mapped_column(Text)  # why denied or failed
    extended_at: Mapped[datetime | None]
    extension_reason: Mapped[str | None] = mapped_column(Text)
    archive_key: Mapped[str | None] = mapped_column(String(200))
    archive_size: Mapped[int | None] = mapped_column(BigInteger)
    archive_expires_at: Mapped[datetime | None]
    processed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    processed_at: Mapped[datetime | None]


class PrivacyRequestEvent(UUIDPrimaryKey, Base):
    """One step of a request: the state it reached, who moved it (None: a worker), when, and what was done."""

    __tablename__ = "privacy_request_events"
    __table_args__ = (Index("ix_privacy_request_events_request", "request_id", "at"),)

    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("privacy_subject_requests.id", ondelete="CASCADE"))
    # the request's subject, so row-level security can show a person their own requests' steps
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[SubjectRequestStatus] = mapped_column(pg_enum(SubjectRequestStatus, "subject_request_state"))
    note: Mapped[str] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class LegalHold(UUIDPrimaryKey, Base):
    """A hold staff place on a user's or an organization's data (GDPR Art. 17(3)(e), legal claims): while active,
    neither retention nor erasure touches what it covers."""

    __tablename__ = "privacy_legal_holds"
    __table_args__ = (
        CheckConstraint("num_nonnulls(user_id, organization_id) = 1", name="holds_one_subject"),
        CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("(lifted_at IS NULL) = (lift_reason IS NULL)", name="lift_has_a_reason"),
        Index("ix_privacy_legal_holds_user", "user_id", postgresql_where=text("lifted_at IS NULL")),
        Index("ix_privacy_legal_holds_organization", "organization_id", postgresql_where=text("lifted_at IS NULL")),
    )

    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"))
    reason: Mapped[str] = mapped_column(Text)
    reference: Mapped[str] = mapped_column(String(200))  # the case or matter number
    starts_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    ends_at: Mapped[datetime | None]
    placed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    lifted_at: Mapped[datetime | None]
    lifted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    lift_reason: Mapped[str | None] = mapped_column(Text)


class PolicyVersion(UUIDPrimaryKey, Base):
    """One published version of a document: its exact text (and that text's SHA-256), when it takes effect, and
    whether people must accept it to use ClosedLoop. Never changed once published: a change is a new version."""

    __tablename__ = "privacy_policy_versions"
    __table_args__ = (
        Index("uq_privacy_policy_versions_document_version", "document", "version", unique=True),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("text_hash ~ '^[0-9a-f]{64}$'", name="text_hash_is_sha256"),
    )

    document: Mapped[PolicyDocument] = mapped_column(pg_enum(PolicyDocument, "policy_document"))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # Markdown
    text_hash: Mapped[str] = mapped_column(String(64))
    requires_consent: Mapped[bool] = mapped_column(Boolean)
    effective_at: Mapped[datetime]
    published_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class UserConsent(UUIDPrimaryKey, Base):
    """One decision of a person about one version of a document — append-only, so the history is the proof.
    `proof_hash` is the SHA-256 of a canonical record of the decision and the version's text hash
    (webapp.privacy.consents.proof_of): anyone holding the row and the text can recompute it."""

    __tablename__ = "privacy_user_consents"
    __table_args__ = (
        Index("ix_privacy_user_consents_user_document", "user_id", "document", "decided_at"),
        CheckConstraint("proof_hash ~ '^[0-9a-f]{64}$'", name="proof_hash_is_sha256"),
    )

    # SET NULL: proof of what was agreed outlives the account (erasure replaces the person, not the record)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("privacy_policy_versions.id"), index=True)
    document: Mapped[PolicyDocument] = mapped_column(pg_enum(PolicyDocument, "policy_document"))
    decision: Mapped[ConsentDecision] = mapped_column(pg_enum(ConsentDecision, "consent_decision"))
    decided_at: Mapped[datetime]
    method: Mapped[ConsentMethod] = mapped_column(pg_enum(ConsentMethod, "consent_method"))
    ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(String(400))
    proof_hash: Mapped[str] = mapped_column(String(64))


class PersonalDataEntry(UUIDPrimaryKey, Base):
    """One column that holds personal data: what it is, why it is kept, for how long, and what erasure does to it.
    Export, erasure, retention and the records of processing all read this registry; a test fails when a column
    that looks personal is missing from it (tests/privacy/test_registry.py)."""

    __tablename__ = "personal_data_registry"
    __table_args__ = (
        Index("uq_personal_data_registry_column", "table_name", "column_name", unique=True),
        CheckConstraint("erasure_action <> 'keep' OR keep_reason IS NOT NULL", name="keep_has_a_reason"),
        CheckConstraint("(retention_days IS NULL) = (retention_from IS NULL)", name="retention_has_a_start"),
        CheckConstraint("retention_days IS NULL OR retention_days > 0", name="retention_positive"),
    )

    table_name: Mapped[str] = mapped_column(String(63))
    column_name: Mapped[str] = mapped_column(String(63))
    # the column that ties a row to its person: a user id, or (invitations) the address itself
    subject_column: Mapped[str] = mapped_column(String(63))
    category: Mapped[DataCategory] = mapped_column(pg_enum(DataCategory, "personal_data_category"))
    purpose: Mapped[str] = mapped_column(Text)
    lawful_basis: Mapped[LawfulBasis] = mapped_column(pg_enum(LawfulBasis, "lawful_basis"))
    retention_days: Mapped[int | None] = mapped_column(Integer)  # None: as long as the account exists
    retention_from: Mapped[str | None] = mapped_column(String(63))  # the timestamp column it counts from
    erasure_action: Mapped[ErasureAction] = mapped_column(pg_enum(ErasureAction, "erasure_action"))
    keep_reason: Mapped[str | None] = mapped_column(Text)
