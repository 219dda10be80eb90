"""JSON API of comments: an entity's thread (`/:entity_type/:entity_id/comments`), and one comment by id."""

from __future__ import annotations

import uuid

from quart import Blueprint, g, url_for
from quart_schema import document_request

import webapp.models  # noqa: F401 - every entity kind is registered before the routes name them
from webapp.collaboration import queries, service
from webapp.collaboration.links import entity_url
from webapp.collaboration.schemas import CommentDeleteQuery, CommentIn, CommentOut, CommentPatch
from webapp.core.entities import entity_type_converter
from webapp.core.forms import parse_body, parse_query
from webapp.core.openapi import Items, query, raises, returns
from webapp.core.permissions import Perm, require_bound_credential, requires
from webapp.core.transaction import db_session

bp = Blueprint("comments_api", __name__, url_prefix="/api/v1")
bp.before_request(require_bound_credential)
THREAD = f"/<{entity_type_converter()}:entity_type>/<uuid:entity_id>/comments"


def comment_out(view: queries.CommentView) -> dict:
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
    ).model_dump(mode="json")


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
    target = await _target(entity_type, entity_id)
    thread = await queries.list_thread(db_session(), g.ctx.org_id, target)
    return {"items": [comment_out(c) for c in _flat(thread)]}


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
    )
    view = await queries.get_comment(session, g.ctx.org_id, comment.id)
    return comment_out(view), 201, {"Location": url_for("comments_api.get_comment", comment_id=comment.id)}


@bp.get("/comments/<uuid:comment_id>")
@requires()
@returns(CommentOut)
async def get_comment(comment_id: uuid.UUID):
    """One comment (a deleted one as a stub)."""
    view = await queries.get_comment(db_session(), g.ctx.org_id, comment_id)
    await _target(view.entity_type, view.entity_id)
    return comment_out(view)


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
    return comment_out(await queries.get_comment(session, g.ctx.org_id, comment_id))


@bp.delete("/comments/<uuid:comment_id>")
@requires(Perm.COMMENTS_WRITE)
@query(CommentDeleteQuery)
@returns(None, 204)
async def delete_comment(comment_id: uuid.UUID):
    """Delete a comment (yours, or anyone's with comments:moderate); replies stay under a stub."""
    args = parse_query(CommentDeleteQuery)
    await service.delete_comment(db_session(), g.ctx, comment_id, _target, version=args.version)
    return "", 204
