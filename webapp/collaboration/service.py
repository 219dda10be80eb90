"""Comment writes: post (maybe as a reply), edit (author only, versioned, history kept), delete (author or a
moderator); mentions are recorded, mailed through the outbox and announced live after commit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.collaboration import attachments, events, markdown
from webapp.collaboration.models import Comment, CommentMention, CommentRevision
from webapp.collaboration.queries import Target
from webapp.core import audit
from webapp.core.errors import Conflict, Forbidden, NotFound, ValidationError
from webapp.core.ids import new_id
from webapp.core.permissions import Perm
from webapp.core.tenancy import RequestContext
from webapp.core.transaction import after_commit
from webapp.core.validation import Text, partition
from webapp.identity.profile import wants_email
from webapp.mail.service import queue_email
from webapp.organizations import queries as org_queries

MAX_LENGTH = 10_000
RULES = (Text("content", "Comment", max=MAX_LENGTH, min=1),)


def _now() -> datetime:
    return datetime.now(UTC)


def _clean(content) -> str:
    if not isinstance(content, str) or not content.strip():
        raise ValidationError.field("content", "Write something first.")
    data, errors = partition({"content": content}, RULES, partial=False)
    if errors:
        raise ValidationError(details={"fields": errors})
    return data["content"]


async def _members(session: AsyncSession, org_id: uuid.UUID) -> tuple[list[markdown.Member], dict]:
    rows = [m for m in await org_queries.list_members(session, org_id) if m.active]
    members = [markdown.Member(m.user_id, m.name or m.email, markdown.handles_for(m.name or "", m.email)) for m in rows]
    return members, {m.user_id: m for m in rows}


async def _lock(session: AsyncSession, ctx: RequestContext, comment_id: uuid.UUID) -> Comment:
    comment = (
        await session.execute(
            select(Comment)
            .where(Comment.organization_id == ctx.org_id, Comment.id == comment_id, Comment.deleted_at.is_(None))
            .with_for_update()
        )
    ).scalar_one_or_none()
    if comment is None:
        raise NotFound("No such comment.")
    return comment


async def _record_mentions(
    session: AsyncSession,
    ctx: RequestContext,
    comment: Comment,
    target: Target,
    mentioned: list[markdown.Member],
    directory: dict,
    *,
    link: str,
    already: set[uuid.UUID] = frozenset(),
) -> list[uuid.UUID]:
    """Mention rows and emails for members named for the first time in this comment (never the author)."""
    fresh = [m for m in mentioned if m.user_id != ctx.user_id and m.user_id not in already]
    for member in fresh:
        session.add(CommentMention(organization_id=ctx.org_id, comment_id=comment.id, user_id=member.user_id))
        row = directory[member.user_id]
        if await wants_email(session, member.user_id, "mentions"):
            await queue_email(
                session,
                to=row.email,
                template="comment_mention",
                user_id=member.user_id,
                author=ctx.user_name or ctx.user_email,
                org_name=ctx.org_name,
                where=f"{target.kind.label} {target.title}",
                excerpt=comment.content[:500],
                link=link,
            )
    return [m.user_id for m in fresh]


def _announce(session: AsyncSession, ctx: RequestContext, comment: Comment, action: str) -> None:
    after_commit(session, lambda: events.publish_comment(ctx.org_id, comment, action))


async def create_comment(
    session: AsyncSession,
    ctx: RequestContext,
    target: Target,
    content,
    *,
    parent_comment_id: uuid.UUID | None = None,
    link: str,
    attachment_ids=None,
) -> Comment:
    """Post a comment on `target` (a reply when `parent_comment_id` names a live comment on the same entity),
    carrying the caller's finished uploads named by `attachment_ids`."""
    text = _clean(content)
    if parent_comment_id is not None:
        parent = (
            await session.execute(
                select(Comment.id).where(
                    Comment.organization_id == ctx.org_id,
                    Comment.id == parent_comment_id,
                    Comment.entity_type == target.kind.name,
                    Comment.entity_id == target.entity_id,
                    Comment.deleted_at.is_(None),
                )
            )
        ).scalar_one_or_none()
        if parent is None:
            raise ValidationError.field("parent_comment_id", "The comment you reply to is not in this thread.")
    members, directory = await _members(session, ctx.org_id)
    rendered = markdown.render(text, members)
    comment = Comment(
        id=new_id(),
        organization_id=ctx.org_id,
        entity_type=target.kind.name,
        entity_id=target.entity_id,
        parent_comment_id=parent_comment_id,
        author_id=ctx.user_id,
        content=text,
        content_html=rendered.html,
    )
    session.add(comment)
    await session.flush()
    await attachments.attach_to_comment(session, ctx, comment, attachment_ids)
    mentioned = await _record_mentions(
        session, ctx, comment, target, rendered.mentioned, directory, link=f"{link}#comment-{comment.id}"
    )
    await audit.record(
        session,
        ctx,
        "comment.create",
        entity_type="comment",
        entity_id=comment.id,
        after={"on": f"{target.kind.name}/{target.entity_id}", "parent": parent_comment_id, "mentions": mentioned},
    )
    _announce(session, ctx, comment, "created")
    return comment


async def update_comment(
    session: AsyncSession,
    ctx: RequestContext,
    comment_id: uuid.UUID,
    target_of,
    content,
    *,
    version: int | None,
    link: str,
) -> Comment:
    """Change one's own comment: a stale `version` is a 409; the old text goes to the history; new mentions notify.

    `target_of(entity_type, entity_id)` re-checks that the caller still sees the entity (awaitable)."""
    comment = await _lock(session, ctx, comment_id)
    target = await target_of(comment.entity_type, comment.entity_id)
    if comment.author_id != ctx.user_id:
        raise Forbidden("Only the author can edit a comment.")
    if version is not None and version != comment.version:
        raise Conflict(
            "This comment was changed by someone else first.",
            {"current": {"content": comment.content, "version": comment.version}},
        )
    text = _clean(content)
    if text == comment.content:
        return comment
    members, directory = await _members(session, ctx.org_id)
    rendered = markdown.render(text, members)
    known = set(
        (
            await session.execute(
                select(CommentMention.user_id).where(
                    CommentMention.organization_id == ctx.org_id, CommentMention.comment_id == comment.id
                )
            )
        ).scalars()
    )
    session.add(
        CommentRevision(
            organization_id=ctx.org_id, comment_id=comment.id, content=comment.content, edited_by=ctx.user_id
        )
    )
    before = comment.content
    comment.content, comment.content_html, comment.edited_at = text, rendered.html, _now()
    await session.flush()
    await _record_mentions(
        session, ctx, comment, target, rendered.mentioned, directory, link=f"{link}#comment-{comment.id}", already=known
    )
    await audit.record(
        session, ctx, "comment.update", entity_type="comment", entity_id=comment.id, before={"content": before},
        after={"content": text},
    )  # fmt: skip
    _announce(session, ctx, comment, "edited")
    return comment


async def delete_comment(
    session: AsyncSession, ctx: RequestContext, comment_id: uuid.UUID, target_of, *, version: int | None = None
) -> Comment:
    """Delete a comment (its author, or a member who moderates comments); replies stay under a stub."""
    comment = await _lock(session, ctx, comment_id)
    await target_of(comment.entity_type, comment.entity_id)
    if comment.author_id != ctx.user_id and not ctx.can(Perm.COMMENTS_MODERATE):
        raise Forbidden("Only the author or a moderator can delete a comment.")
    if version is not None and version != comment.version:
        raise Conflict(
            "This comment was changed by someone else first.",
            {"current": {"content": comment.content, "version": comment.version}},
        )
    comment.deleted_at, comment.deleted_by = _now(), ctx.user_id
    await session.flush()
    await audit.record(
        session, ctx, "comment.delete", entity_type="comment", entity_id=comment.id,
        before={"content": comment.content, "author_id": comment.author_id},
    )  # fmt: skip
    _announce(session, ctx, comment, "deleted")
    return comment


async def mark_mentions_read(session: AsyncSession, ctx: RequestContext, comment_ids: list[uuid.UUID]) -> None:
    """The caller has seen these comments: their mentions stop counting as unread."""
    if comment_ids:
        await session.execute(
            update(CommentMention)
            .where(
                CommentMention.organization_id == ctx.org_id,
                CommentMention.user_id == ctx.user_id,
                CommentMention.comment_id.in_(comment_ids),
                CommentMention.read_at.is_(None),
            )
            .values(read_at=_now())
        )
