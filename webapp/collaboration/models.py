"""comments (threaded, on any registered entity), their edit history and the mentions they make (tenant-owned)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
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

from webapp.core.db import Base, SoftDelete, TenantOwned, Timestamps, UUIDPrimaryKey, Versioned


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
