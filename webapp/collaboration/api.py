"""JSON API of comments (an entity's thread, one comment by id) and attachments (presign, upload straight to the
store, complete, download, delete; an entity's files)."""

from __future__ import annotations

import uuid

from quart import Blueprint, current_app, g, url_for
from quart_schema import document_request

import webapp.models  # noqa: F401 - every entity kind is registered before the routes name them
from webapp.collaboration import attachments, queries, service
from webapp.collaboration.links import entity_url
from webapp.collaboration.schemas import (
    AttachmentOut,
    CommentDeleteQuery,
    CommentIn,
    CommentOut,
    CommentPatch,
    CompleteIn,
    PresignIn,
    PresignOut,
)
from webapp.collaboration.storage import UPLOAD_SECONDS, store_for
from webapp.core.entities import KINDS, entity_type_converter
from webapp.core.errors import ValidationError
from webapp.core.forms import parse_body, parse_query, require_id
from webapp.core.openapi import Items, query, raises, returns
from webapp.core.permissions import Perm, require_bound_credential, requires
from webapp.core.transaction import db_session

bp = Blueprint("comments_api", __name__, url_prefix="/api/v1")
bp.before_request(require_bound_credential)
THREAD = f"/<{entity_type_converter()}:entity_type>/<uuid:entity_id>/comments"


def attachment_out(view: attachments.AttachmentView) -> dict:
    """AttachmentView -> response JSON."""
    return AttachmentOut(
        id=view.id,
        filename=view.filename,
        content_type=view.content_type,
        declared_type=view.declared_type,
        size=view.size,
        checksum_sha256=view.checksum_sha256,
        status=view.status,
        entity_type=view.entity_type,
        entity_id=view.entity_id,
        comment_id=view.comment_id,
        uploaded_by=view.uploaded_by,
        uploader_name=view.uploader_name,
        created_at=view.created_at,
        download_url=url_for("comments_api.download_attachment", attachment_id=view.id),
    ).model_dump(mode="json")


def comment_out(view: queries.CommentView, files: list | None = None) -> dict:
    """CommentView -> response JSON."""
    return CommentOut(
        id=view.id,
        entity_type=view.entity_type,
        entity_id=view.entity_id,
        parent_comment_id=view.parent_comment_id,
        author_id=view.author_id,
        author_name=view.author_name,
        content=view.content,
        content_html=view.content_html,
        created_at=view.created_at,
        edited_at=view.edited_at,
        deleted=view.deleted,
        version=view.version,
    ).model_dump(mode="json") | {"attachments": [attachment_out(a) for a in files or []] if not view.deleted else []}


def _flat(thread: list[queries.CommentView]) -> list[queries.CommentView]:
    out = []
    for comment in thread:
        out.append(comment)
        out.extend(_flat(comment.replies))
    return out


async def _target(entity_type: str, entity_id: uuid.UUID) -> queries.Target:
    return await queries.get_target(db_session(), g.ctx, entity_type, entity_id)


@bp.get(THREAD)
@requires()
@returns(Items[CommentOut])
async def list_comments(entity_type: str, entity_id: uuid.UUID):
    """An entity's thread in reading order (each reply right after its parent); needs the permission that shows
    the entity (missions:read, catalog:read, simulations:read, products:read)."""
    session, target = db_session(), await _target(entity_type, entity_id)
    flat = _flat(await queries.list_thread(session, g.ctx.org_id, target))
    files = await attachments.for_comments(session, g.ctx.org_id, [c.id for c in flat])
    return {"items": [comment_out(c, files.get(c.id)) for c in flat]}


@bp.post(THREAD)
@requires(Perm.COMMENTS_WRITE)
@document_request(CommentIn)
@returns(CommentOut, 201, creates="comments_api.get_comment")
@raises(422)
async def create_comment(entity_type: str, entity_id: uuid.UUID):
    """Comment on an entity, or reply (`parent_comment_id`): 201 + Location; members named with @ are notified."""
    data = await parse_body(CommentIn)
    session, target = db_session(), await _target(entity_type, entity_id)
    comment = await service.create_comment(
        session,
        g.ctx,
        target,
        data.content,
        parent_comment_id=data.parent_comment_id,
        link=entity_url(target.kind, target.entity_id, target.mission_id, external=True),
        attachment_ids=data.attachments,
    )
    return (
        await _comment_answer(comment.id),
        201,
        {"Location": url_for("comments_api.get_comment", comment_id=comment.id)},
    )


@bp.get("/comments/<uuid:comment_id>")
@requires()
@returns(CommentOut)
async def get_comment(comment_id: uuid.UUID):
    """One comment (a deleted one as a stub)."""
    return await _comment_answer(comment_id)


async def _comment_answer(comment_id: uuid.UUID) -> dict:
    session = db_session()
    view = await queries.get_comment(session, g.ctx.org_id, comment_id)
    await _target(view.entity_type, view.entity_id)
    files = await attachments.for_comments(session, g.ctx.org_id, [view.id])
    return comment_out(view, files.get(view.id))


@bp.patch("/comments/<uuid:comment_id>")
@requires(Perm.COMMENTS_WRITE)
@document_request(CommentPatch)
@returns(CommentOut)
@raises(422)
async def update_comment(comment_id: uuid.UUID):
    """Edit your comment: a stale `version` is a 409 with the saved text; the earlier text is kept as history."""
    data = await parse_body(CommentPatch)
    session = db_session()
    current = await queries.get_comment(session, g.ctx.org_id, comment_id)
    target = await _target(current.entity_type, current.entity_id)
    await service.update_comment(
        session,
        g.ctx,
        comment_id,
        _target,
        data.content,
        version=data.version,
        link=entity_url(target.kind, target.entity_id, target.mission_id, external=True),
    )
    return await _comment_answer(comment_id)


@bp.delete("/comments/<uuid:comment_id>")
@requires(Perm.COMMENTS_WRITE)
@query(CommentDeleteQuery)
@returns(None, 204)
async def delete_comment(comment_id: uuid.UUID):
    """Delete a comment (yours, or anyone's with comments:moderate); replies stay under a stub."""
    args = parse_query(CommentDeleteQuery)
    await service.delete_comment(db_session(), g.ctx, comment_id, _target, version=args.version)
    return "", 204


# ---------------------------------------------------------------------------------------------- attachments


def _store():
    return store_for(current_app.extensions["closedloop"]["settings"])


def _limits() -> attachments.Limits:
    settings = current_app.extensions["closedloop"]["settings"]
    return attachments.Limits(settings.attachment_max_bytes, settings.attachment_quota_bytes)


async def presign_answer(data: dict) -> tuple[dict, str]:
    """Presign for the current caller (the JSON API and the browser's routes); (answer, Location)."""
    session = db_session()
    target = None
    entity_type, entity_id = data.get("entity_type"), data.get("entity_id")
    if entity_type or entity_id:
        if not isinstance(entity_type, str) or not entity_id:
            raise ValidationError.field("entity_id", "Name both the entity_type and the entity_id, or neither.")
        target = await _target(entity_type, require_id(entity_id, "entity_id"))
    attachment, upload = await attachments.presign(session, g.ctx, _store(), _limits(), data, target)
    view = await attachments.get_attachment(session, g.ctx, attachment.id)
    body = {
        "attachment": attachment_out(view),
        "upload": {"method": upload.method, "url": upload.url, "fields": upload.fields, "expires_in": UPLOAD_SECONDS}
        if upload
        else None,
    }
    return body, url_for("comments_api.get_attachment", attachment_id=attachment.id)


@bp.post("/attachments/presign")
@requires(Perm.ATTACHMENTS_WRITE)
@document_request(PresignIn)
@returns(PresignOut, 201, creates="comments_api.get_attachment")
@raises(422)
async def presign():
    """Start an upload: 201 with the pending attachment and a short-lived POST straight to the store (null when the
    organization already stores these bytes); then POST /attachments/complete. Size, type and quota are checked."""
    data = await parse_body(PresignIn)
    body, location = await presign_answer(data.model_dump())
    return body, 201, {"Location": location}


@bp.post("/attachments/complete")
@requires(Perm.ATTACHMENTS_WRITE)
@document_request(CompleteIn)
@returns(AttachmentOut)
@raises(422)
async def complete_upload():
    """Finish an upload: the server re-reads the object and checks its size, SHA-256 and real type; a mismatch is a
    422 and the object is deleted."""
    data = await parse_body(CompleteIn)
    session = db_session()
    done = await attachments.complete(session, g.ctx, _store(), data.attachment_id)
    return attachment_out(attachments.own_view(done, g.ctx))


@bp.get("/attachments/<uuid:attachment_id>")
@requires()
@returns(AttachmentOut)
async def get_attachment(attachment_id: uuid.UUID):
    """One attachment (a pending one only to its uploader)."""
    return attachment_out(await attachments.get_attachment(db_session(), g.ctx, attachment_id))


@bp.get("/attachments/<uuid:attachment_id>/download")
@requires()
@returns(None, 303)
async def download_attachment(attachment_id: uuid.UUID):
    """303 to a short-lived link of the bytes, served as an attachment under the file's name with nosniff."""
    url = await attachments.download_url(db_session(), g.ctx, _store(), attachment_id)
    return "", 303, {"Location": url, "Cache-Control": "no-store"}


@bp.delete("/attachments/<uuid:attachment_id>")
@requires(Perm.ATTACHMENTS_WRITE)
@returns(None, 204)
async def delete_attachment(attachment_id: uuid.UUID):
    """Delete a file (yours, or any on something you may edit); its bytes go once nothing uses them."""
    await attachments.delete_attachment(db_session(), g.ctx, attachment_id, can_moderate=can_moderate)
    return "", 204


def can_moderate(view) -> bool:
    """Whether the caller may delete others' files on this entity (they may edit it, or moderate comments)."""
    if view.comment_id is not None and g.ctx.can(Perm.COMMENTS_MODERATE):
        return True
    kind = KINDS.get(view.entity_type or "")
    return kind is not None and g.ctx.can(kind.write)


@bp.get(f"/<{entity_type_converter()}:entity_type>/<uuid:entity_id>/attachments")
@requires()
@returns(Items[AttachmentOut])
async def list_attachments(entity_type: str, entity_id: uuid.UUID):
    """Files attached to an entity itself (those of its comments come with the comments), newest first."""
    session, target = db_session(), await _target(entity_type, entity_id)
    return {"items": [attachment_out(a) for a in await attachments.list_for(session, g.ctx.org_id, target)]}
