"""comments (threaded, on any registered entity), their edit history and the mentions they make; attachments and
the stored objects they point at (all tenant-owned)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from webapp.collaboration.enums import AttachmentStatus
from webapp.core.db import Base, SoftDelete, TenantOwned, Timestamps, UUIDPrimaryKey, Versioned
from webapp.core.enums import pg_enum


class Comment(UUIDPrimaryKey, TenantOwned, Timestamps, SoftDelete, Versioned, Base):
    """A Markdown comment on one entity (entity_type names a webapp.core.entities kind), maybe a reply."""

    __tablename__ = "comments"
    __table_args__ = (
        UniqueConstraint("organization_id", "id"),
        ForeignKeyConstraint(
            ["organization_id", "parent_comment_id"], ["comments.organization_id", "comments.id"], ondelete="CASCADE"
        ),
        Index("ix_comments_entity", "organization_id", "entity_type", "entity_id", "created_at"),
        Index("ix_comments_org_recent", "organization_id", "created_at", postgresql_where=text("deleted_at IS NULL")),
        Index("ix_comments_parent", "parent_comment_id"),
        CheckConstraint("char_length(content) BETWEEN 1 AND 10000", name="content_length"),
        CheckConstraint("char_length(entity_type) BETWEEN 1 AND 40", name="entity_type_length"),
        CheckConstraint("parent_comment_id IS NULL OR parent_comment_id <> id", name="not_own_parent"),
    )

    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[uuid.UUID] = mapped_column()
    parent_comment_id: Mapped[uuid.UUID | None] = mapped_column()
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    content: Mapped[str] = mapped_column(Text)
    # the sanitized HTML of `content`, rendered once when written (webapp.collaboration.markdown)
    content_html: Mapped[str] = mapped_column(Text)
    edited_at: Mapped[datetime | None] = mapped_column()
    deleted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class CommentRevision(UUIDPrimaryKey, TenantOwned, Base):
    """The text a comment had before an edit (its edit history, append-only)."""

    __tablename__ = "comment_revisions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "comment_id"], ["comments.organization_id", "comments.id"], ondelete="CASCADE"
        ),
        Index("ix_comment_revisions_comment", "comment_id", "created_at"),
    )

    comment_id: Mapped[uuid.UUID] = mapped_column()
    content: Mapped[str] = mapped_column(Text)
    edited_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class CommentMention(TenantOwned, Base):
    """A member named with @ in a comment: their notification until they read it."""

    __tablename__ = "comment_mentions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "comment_id"], ["comments.organization_id", "comments.id"], ondelete="CASCADE"
        ),
        Index("ix_comment_mentions_unread", "user_id", "organization_id", postgresql_where=text("read_at IS NULL")),
    )

    comment_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    read_at: Mapped[datetime | None] = mapped_column()


class StoredObject(UUIDPrimaryKey, TenantOwned, Base):
    """Bytes an organization stores once, whatever number of attachments point at them (content-addressed)."""

    __tablename__ = "stored_objects"
    __table_args__ = (
        UniqueConstraint("organization_id", "id"),
        # one object per organization and checksum: a second upload of the same bytes links to the first
        UniqueConstraint("organization_id", "checksum_sha256"),
        CheckConstraint("size >= 0", name="size_nonnegative"),
        CheckConstraint("checksum_sha256 ~ '^[0-9a-f]{64}$'", name="checksum_hex"),
    )

    checksum_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(120))  # as sniffed from the bytes, not as declared
    storage_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    unreferenced_since: Mapped[datetime | None] = mapped_column()  # the collector deletes it after a grace period


class Attachment(UUIDPrimaryKey, TenantOwned, SoftDelete, Base):
    """A file someone attached to an entity, or to a comment on it: pending until its upload is verified."""

    __tablename__ = "attachments"
    __table_args__ = (
        UniqueConstraint("organization_id", "id"),
        ForeignKeyConstraint(["organization_id", "object_id"], ["stored_objects.organization_id", "stored_objects.id"]),
        ForeignKeyConstraint(
            ["organization_id", "comment_id"], ["comments.organization_id", "comments.id"], ondelete="SET NULL"
        ),
        Index("ix_attachments_entity", "organization_id", "entity_type", "entity_id", "created_at"),
        Index("ix_attachments_comment", "comment_id"),
        Index("ix_attachments_object", "object_id"),
        Index("ix_attachments_pending", "expires_at", postgresql_where=text("status = 'pending'")),
        CheckConstraint("size > 0", name="size_positive"),
        CheckConstraint("char_length(filename) BETWEEN 1 AND 255", name="filename_length"),
        CheckConstraint("checksum_sha256 ~ '^[0-9a-f]{64}$'", name="checksum_hex"),
        CheckConstraint("status <> 'ready' OR object_id IS NOT NULL", name="ready_has_object"),
        CheckConstraint("(entity_type IS NULL) = (entity_id IS NULL)", name="entity_pair"),
    )

    filename: Mapped[str] = mapped_column(String(255))
    declared_type: Mapped[str] = mapped_column(String(120))
    content_type: Mapped[str | None] = mapped_column(String(120))  # sniffed at completion
    size: Mapped[int] = mapped_column(BigInteger)
    checksum_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[AttachmentStatus] = mapped_column(
        pg_enum(AttachmentStatus, "attachment_status"), server_default=AttachmentStatus.PENDING.value
    )
    object_id: Mapped[uuid.UUID | None] = mapped_column()
    entity_type: Mapped[str | None] = mapped_column(String(40))
    entity_id: Mapped[uuid.UUID | None] = mapped_column()
    comment_id: Mapped[uuid.UUID | None] = mapped_column()
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    completed_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()  # a pending upload not completed by then is cleaned up
