"""JSON shapes of comments (the limits mirror the service's rules, which still decide)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

import webapp.models  # noqa: F401 - every entity kind is registered before the schemas list them
from webapp.collaboration.attachments import ALLOWED
from webapp.collaboration.enums import AttachmentStatus
from webapp.core.entities import KINDS
from webapp.core.openapi import VERSION, Body, whole


class CommentIn(Body):
    """Body of POST /:entity_type/:entity_id/comments."""

    content: str = Field(min_length=1, max_length=10_000, description="Markdown; `@name` mentions a member")
    parent_comment_id: uuid.UUID | None = Field(None, description="Reply to this comment of the same thread")
    attachments: list[uuid.UUID] = Field(
        [], max_length=20, description="ids of your finished uploads (presigned without an entity) to carry"
    )


class CommentPatch(Body):
    """Body of PATCH /comments/:id: the new text and the version read."""

    content: str = Field(min_length=1, max_length=10_000)
    version: VERSION | None = None


class CommentDeleteQuery(BaseModel):
    """Query of DELETE /comments/:id."""

    model_config = ConfigDict(extra="ignore")

    version: whole(1, 2**31 - 1) | None = Field(None, description="The version read; a stale one is a 409")


class AttachmentOut(BaseModel):
    """A file: `pending` until its upload is verified, then `ready`; `content_type` is what the bytes are."""

    id: uuid.UUID
    filename: str
    content_type: str | None = Field(description="sniffed from the bytes once verified")
    declared_type: str
    size: int
    checksum_sha256: str
    status: AttachmentStatus
    entity_type: str | None
    entity_id: uuid.UUID | None
    comment_id: uuid.UUID | None
    uploaded_by: uuid.UUID | None
    uploader_name: str | None
    created_at: datetime
    download_url: str = Field(description="GET it for a short-lived link to the bytes (303)")


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
    attachments: list[AttachmentOut] = []


class PresignIn(Body):
    """Body of POST /attachments/presign: the file as the client sees it; the server checks it all again later."""

    filename: str = Field(min_length=1, max_length=255)
    mime_type: Literal[tuple(ALLOWED)] = Field(description="the type the file claims to be")  # type: ignore[valid-type]
    size: whole(1, 2**40) = Field(description="bytes; at most ATTACHMENT_MAX_BYTES (25 MiB by default)")
    checksum_sha256: str = Field(pattern="^[0-9a-fA-F]{64}$", description="SHA-256 of the bytes, hexadecimal")
    entity_type: Literal[tuple(KINDS)] | None = Field(  # type: ignore[valid-type]
        None, description="attach to this entity; leave both out for a file a comment will carry"
    )
    entity_id: uuid.UUID | None = None


class UploadOut(BaseModel):
    """Where to send the bytes: a multipart/form-data POST of `fields` (as given), then the file as `file`."""

    method: Literal["POST"]
    url: str
    fields: dict[str, str]
    expires_in: int = Field(description="seconds the upload stays allowed")


class PresignOut(BaseModel):
    """The pending attachment and its upload (null: the organization stores these bytes already; complete it)."""

    attachment: AttachmentOut
    upload: UploadOut | None


class CompleteIn(Body):
    """Body of POST /attachments/complete."""

    attachment_id: uuid.UUID
