"""JSON shapes of comments (the limits mirror the service's rules, which still decide)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from webapp.core.openapi import VERSION, Body, whole


class CommentIn(Body):
    """Body of POST /:entity_type/:entity_id/comments."""

    content: str = Field(min_length=1, max_length=10_000, description="Markdown; `@name` mentions a member")
    parent_comment_id: uuid.UUID | None = Field(None, description="Reply to this comment of the same thread")


class CommentPatch(Body):
    """Body of PATCH /comments/:id: the new text and the version read."""

    content: str = Field(min_length=1, max_length=10_000)
    version: VERSION | None = None


class CommentDeleteQuery(BaseModel):
    """Query of DELETE /comments/:id."""

    model_config = ConfigDict(extra="ignore")

    version: whole(1, 2**31 - 1) | None = Field(None, description="The version read; a stale one is a 409")


class CommentOut(BaseModel):
    """A comment; a deleted one with replies stays as a stub (`deleted`, no content) so the thread keeps its
    shape."""

    id: uuid.UUID
    entity_type: str
    entity_id: uuid.UUID
    parent_comment_id: uuid.UUID | None
    author_id: uuid.UUID | None
    author_name: str | None
    content: str | None = Field(description="The Markdown as written; null once deleted")
    content_html: str | None = Field(description="The sanitized HTML the pages show; null once deleted")
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    version: int
