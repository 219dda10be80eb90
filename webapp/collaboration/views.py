"""Comment threads in the browser: the thread on every entity page, post and reply, edit with history, delete,
live updates over SSE, and the mentions inbox."""

from __future__ import annotations

import json
import uuid

from quart import Blueprint, g, redirect, request

import webapp.models  # noqa: F401 - every entity kind is registered before the routes name them
from webapp.collaboration import attachments, queries, service
from webapp.collaboration.events import thread_channel
from webapp.collaboration.forms import CommentForm
from webapp.collaboration.links import entity_url
from webapp.core.entities import entity_type_converter
from webapp.core.errors import Conflict, ValidationError
from webapp.core.forms import read_form, show_errors
from webapp.core.htmx import is_htmx, render, toast
from webapp.core.ids import parse_id
from webapp.core.live import realtime, stream_channel
from webapp.core.permissions import Perm, requires
from webapp.core.sse import format_event
from webapp.core.transaction import db_session

bp = Blueprint("comments", __name__, url_prefix="/o/<org_slug>")
THREAD = f"/comments/<{entity_type_converter()}:entity_type>/<uuid:entity_id>"


async def _target(entity_type: str, entity_id: uuid.UUID) -> queries.Target:
    return await queries.get_target(db_session(), g.ctx, entity_type, entity_id)


async def thread_context(entity_type: str, entity_id: uuid.UUID) -> dict:
    """What an entity page needs to show its thread (`{% include "collaboration/_thread.html" %}`)."""
    session = db_session()
    target = await _target(entity_type, entity_id)
    thread = await queries.list_thread(session, g.ctx.org_id, target)
    await service.mark_mentions_read(session, g.ctx, _mentioning_me(thread))
    return {
        "target": target,
        "thread": thread,
        "comment_count": queries.count_comments(thread),
        "comment_files": await attachments.for_comments(session, g.ctx.org_id, _ids(thread)),
    }


def _ids(thread: list[queries.CommentView]) -> list[uuid.UUID]:
    return [i for c in thread for i in (c.id, *_ids(c.replies))]


def _mentioning_me(thread: list[queries.CommentView]) -> list[uuid.UUID]:
    mine = f'data-user="{g.ctx.user_id}"'
    found = []
    for comment in thread:
        if comment.content_html and mine in comment.content_html:
            found.append(comment.id)
        found.extend(_mentioning_me(comment.replies))
    return found


def _page_of(target: queries.Target) -> str:
    return entity_url(target.kind, target.entity_id, target.mission_id)


@bp.get(THREAD)
@requires()
async def thread(entity_type: str, entity_id: uuid.UUID):
    """The thread alone (htmx refresh); without htmx, the entity's page at its discussion."""
    if not is_htmx():
        return redirect(_page_of(await _target(entity_type, entity_id)) + "#discussion", 303)
    return await render("collaboration/_thread.html", **await thread_context(entity_type, entity_id))


@bp.post(THREAD)
@requires(Perm.COMMENTS_WRITE)
async def create(entity_type: str, entity_id: uuid.UUID):
    """Post a comment or a reply; htmx gets the new comment (or the form with what was wrong)."""
    session, target = db_session(), await _target(entity_type, entity_id)
    form = await read_form(CommentForm)
    parent = parse_id(form.parent_comment_id.data) if form.parent_comment_id.data else None
    files = [parse_id(v) for v in (await request.form).getlist("attachments")]
    try:
        if None in files:
            raise ValidationError.field("attachments", "An attached file is not valid; attach it again.")
        comment = await service.create_comment(
            session,
            g.ctx,
            target,
            form.content.data,
            parent_comment_id=parent,
            link=entity_url(target.kind, target.entity_id, target.mission_id, external=True),
            attachment_ids=files,
        )
    except ValidationError as exc:
        show_errors(form, exc)
        fields = exc.details.get("fields", {})
        error = " ".join(m for name, ms in fields.items() if name not in form._fields for m in ms) or None
        context = {"form": form, "target": target, "parent": parent, "error": error, "status": 422}
        if not is_htmx():
            return await render("collaboration/comment_form_page.html", **context)
        response = await render("collaboration/_comment_form.html", **context)
        # the form asked to add to the thread; what was wrong goes back into the form instead
        form_id = f"#form-reply-{parent}" if parent else f"#form-new-comment-{target.entity_id}"
        response.headers.update({"HX-Retarget": form_id, "HX-Reswap": "outerHTML"})
        return response
    if not is_htmx():
        return redirect(_page_of(target) + f"#comment-{comment.id}", 303)
    view = await queries.get_comment(session, g.ctx.org_id, comment.id)
    response = await render(
        "collaboration/_comment_posted.html",
        comment=view,
        target=target,
        parent=parent,
        comment_files=await attachments.for_comments(session, g.ctx.org_id, [view.id]),
    )
    return toast(response, "Reply posted." if parent else "Comment posted.")


@bp.get("/comments/<uuid:comment_id>")
@requires()
async def show(comment_id: uuid.UUID):
    """One comment as the caller sees it (live updates fetch it); without htmx, its place in the thread."""
    session = db_session()
    comment = await queries.get_comment(session, g.ctx.org_id, comment_id)
    target = await _target(comment.entity_type, comment.entity_id)
    if not is_htmx():
        return redirect(_page_of(target) + f"#comment-{comment.id}", 303)
    if comment.deleted:
        thread = await queries.list_thread(session, g.ctx.org_id, target)
        if not _contains(thread, comment.id):  # a deleted comment without replies leaves nothing behind
            return await render("collaboration/_comment_gone.html", comment=comment)
    return await render(
        "collaboration/_comment.html",
        comment=comment,
        target=target,
        depth=_depth(request.args),
        comment_files=await attachments.for_comments(session, g.ctx.org_id, [comment.id]),
    )


def _contains(thread, comment_id) -> bool:
    return any(c.id == comment_id or _contains(c.replies, comment_id) for c in thread)


def _depth(args) -> int:
    raw = args.get("depth", "0")
    return min(int(raw), 3) if raw.isdigit() else 0


@bp.get("/comments/<uuid:comment_id>/reply")
@requires(Perm.COMMENTS_WRITE)
async def reply_form(comment_id: uuid.UUID):
    """The reply box under a comment (a page of its own without htmx)."""
    comment = await queries.get_comment(db_session(), g.ctx.org_id, comment_id)
    target = await _target(comment.entity_type, comment.entity_id)
    form = CommentForm(data={"parent_comment_id": str(comment.id)})
    return await render(
        "collaboration/comment_form_page.html",
        "collaboration/_comment_form.html",
        form=form,
        target=target,
        parent=comment.id,
        replying_to=comment,
    )


@bp.get("/comments/<uuid:comment_id>/edit")
@requires(Perm.COMMENTS_WRITE)
async def edit(comment_id: uuid.UUID):
    """The edit box in place of the comment (a page of its own without htmx)."""
    comment = await queries.get_comment(db_session(), g.ctx.org_id, comment_id)
    target = await _target(comment.entity_type, comment.entity_id)
    form = CommentForm(data={"content": comment.content, "version": comment.version})
    return await render(
        "collaboration/comment_edit_page.html",
        "collaboration/_comment_edit.html",
        form=form,
        comment=comment,
        target=target,
    )


@bp.post("/comments/<uuid:comment_id>")
@requires(Perm.COMMENTS_WRITE)
async def update(comment_id: uuid.UUID):
    """Save an edit: the comment swaps back with "edited", or the box shows what was wrong or who changed it first."""
    session = db_session()
    form = await read_form(CommentForm)
    version = int(form.version.data) if (form.version.data or "").isdigit() else None
    try:
        await service.update_comment(
            session,
            g.ctx,
            comment_id,
            _target,
            form.content.data,
            version=version,
            link=await _link_of(comment_id),
        )
    except (ValidationError, Conflict) as exc:
        comment = await queries.get_comment(session, g.ctx.org_id, comment_id)
        target = await _target(comment.entity_type, comment.entity_id)
        show_errors(form, exc)
        conflict = exc.details.get("current") if isinstance(exc, Conflict) else None
        if conflict:
            form.version.data = str(conflict["version"])
        context = {"form": form, "comment": comment, "target": target, "conflict": conflict, "status": exc.status_code}
        return await render("collaboration/comment_edit_page.html", "collaboration/_comment_edit.html", **context)
    comment = await queries.get_comment(session, g.ctx.org_id, comment_id)
    target = await _target(comment.entity_type, comment.entity_id)
    if not is_htmx():
        return redirect(_page_of(target) + f"#comment-{comment.id}", 303)
    return toast(await render("collaboration/_comment.html", comment=comment, target=target, depth=0), "Saved.")


async def _link_of(comment_id: uuid.UUID) -> str:
    comment = await queries.get_comment(db_session(), g.ctx.org_id, comment_id)
    target = await _target(comment.entity_type, comment.entity_id)
    return entity_url(target.kind, target.entity_id, target.mission_id, external=True)


@bp.post("/comments/<uuid:comment_id>/delete")
@requires(Perm.COMMENTS_WRITE)
async def delete(comment_id: uuid.UUID):
    """Delete a comment: it leaves a stub while replies hang under it, nothing otherwise."""
    session = db_session()
    comment = await service.delete_comment(session, g.ctx, comment_id, _target)
    target = await _target(comment.entity_type, comment.entity_id)
    if not is_htmx():
        return redirect(_page_of(target) + "#discussion", 303)
    view = await queries.get_comment(session, g.ctx.org_id, comment_id)
    thread = await queries.list_thread(session, g.ctx.org_id, target)
    template = "collaboration/_comment.html" if _contains(thread, comment_id) else "collaboration/_comment_gone.html"
    return toast(await render(template, comment=view, target=target, depth=0), "Comment deleted.")


@bp.get("/comments/<uuid:comment_id>/history")
@requires()
async def history(comment_id: uuid.UUID):
    """Earlier versions of an edited comment."""
    session = db_session()
    comment = await queries.get_comment(session, g.ctx.org_id, comment_id)
    target = await _target(comment.entity_type, comment.entity_id)
    if comment.deleted:
        revisions = []
    else:
        revisions = await queries.list_revisions(session, g.ctx.org_id, comment_id)
    return await render(
        "collaboration/history.html",
        "collaboration/_history.html",
        comment=comment,
        target=target,
        revisions=revisions,
    )


@bp.get(f"{THREAD}/events")
@requires()
async def events(entity_type: str, entity_id: uuid.UUID):
    """SSE: one `comment` event per new, edited or deleted comment of the thread; the page fetches it."""
    target = await _target(entity_type, entity_id)
    _, namespace = realtime()

    async def frames(payload: dict) -> list[bytes]:
        public = {k: v for k, v in payload.items() if not k.startswith("_")}
        return [format_event(json.dumps(public), event="comment")]

    return await stream_channel(thread_channel(namespace, target.kind.name, target.entity_id), frames)


@bp.get("/mentions")
@requires()
async def mentions():
    """Comments that mention you, newest first; opening one marks it read."""
    items = await queries.list_mentions(db_session(), g.ctx)
    return await render("collaboration/mentions.html", items=items, url_of=discussion_url)


def discussion_url(item: queries.Discussion) -> str:
    """Link to a comment in its thread."""
    return entity_url(item.kind, item.comment.entity_id, item.mission_id) + f"#comment-{item.comment.id}"
