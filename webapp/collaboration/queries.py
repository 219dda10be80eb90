"""Reads of comments: an entity's thread, the organization's recent discussion, one's unread mentions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.collaboration.models import Comment, CommentMention, CommentRevision
from webapp.core.entities import KINDS, EntityKind, kind_of
from webapp.core.errors import NotFound
from webapp.core.tenancy import RequestContext
from webapp.identity.models import User


@dataclass(frozen=True)
class Target:
    """The entity a thread belongs to, once it is known to exist in the caller's organization."""

    kind: EntityKind
    entity_id: uuid.UUID
    title: str
    mission_id: uuid.UUID | None


@dataclass
class CommentView:
    """A comment as pages and the API show it (author resolved; content hidden once deleted)."""

    id: uuid.UUID
    entity_type: str
    entity_id: uuid.UUID
    parent_comment_id: uuid.UUID | None
    author_id: uuid.UUID | None
    author_name: str | None
    content: str | None
    content_html: str | None
    created_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    version: int
    replies: list[CommentView] = field(default_factory=list)

    @property
    def deleted(self) -> bool:
        """Whether this is the stub of a deleted comment."""
        return self.deleted_at is not None


async def get_target(session: AsyncSession, ctx: RequestContext, entity_type: str, entity_id: uuid.UUID) -> Target:
    """The live entity `entity_type`/`entity_id` of the caller's organization that the caller may see; a 404
    otherwise (unknown kind, another organization's entity, deleted, or hidden from the caller alike)."""
    kind = kind_of(entity_type)
    documents = kind.rows().subquery()
    row = (
        await session.execute(
            select(documents.c.title, documents.c.mission_id).where(
                documents.c.entity_id == entity_id, documents.c.organization_id == ctx.org_id
            )
        )
    ).one_or_none()
    if row is None or not ctx.can(kind.read, mission_id=row.mission_id):
        raise NotFound(f"No such {kind.label.lower()}.")
    return Target(kind, entity_id, row.title, row.mission_id)


async def visible_targets(session: AsyncSession, ctx: RequestContext, pairs) -> dict[tuple[str, uuid.UUID], Target]:
    """The targets among (entity_type, entity_id) pairs that exist and the caller may see: one query per kind, not
    per pair (lists of discussion name many entities)."""
    by_kind: dict[str, set[uuid.UUID]] = {}
    for entity_type, entity_id in pairs:
        if entity_type in KINDS:
            by_kind.setdefault(entity_type, set()).add(entity_id)
    found: dict[tuple[str, uuid.UUID], Target] = {}
    for name, ids in by_kind.items():
        kind = KINDS[name]
        documents = kind.rows().subquery()
        rows = await session.execute(
            select(documents.c.entity_id, documents.c.title, documents.c.mission_id).where(
                documents.c.entity_id.in_(list(ids)), documents.c.organization_id == ctx.org_id
            )
        )
        for row in rows:
            if ctx.can(kind.read, mission_id=row.mission_id):
                found[(name, row.entity_id)] = Target(kind, row.entity_id, row.title, row.mission_id)
    return found


def _view_select():
    return select(
        Comment.id,
        Comment.entity_type,
        Comment.entity_id,
        Comment.parent_comment_id,
        Comment.author_id,
        User.name,
        Comment.content,
        Comment.content_html,
        Comment.created_at,
        Comment.edited_at,
        Comment.deleted_at,
        Comment.version,
    ).outerjoin(User, User.id == Comment.author_id)


def _view(row) -> CommentView:
    view = CommentView(*row)
    if view.deleted:
        view.content = view.content_html = None  # a stub keeps the thread's shape, not the words
    return view


async def list_thread(session: AsyncSession, org_id: uuid.UUID, target: Target) -> list[CommentView]:
    """The entity's comments as a tree, oldest first; deleted comments stay as stubs only while they have replies."""
    rows = await session.execute(
        _view_select()
        .where(
            Comment.organization_id == org_id,
            Comment.entity_type == target.kind.name,
            Comment.entity_id == target.entity_id,
        )
        .order_by(Comment.created_at, Comment.id)
    )
    views = {row.id: _view(row) for row in rows}
    roots: list[CommentView] = []
    for view in views.values():
        parent = views.get(view.parent_comment_id) if view.parent_comment_id else None
        (parent.replies if parent else roots).append(view)
    return _prune(roots)


def _prune(views: list[CommentView]) -> list[CommentView]:
    kept = []
    for view in views:
        view.replies = _prune(view.replies)
        if not view.deleted or view.replies:
            kept.append(view)
    return kept


def count_comments(thread: list[CommentView]) -> int:
    """Live comments in a thread (stubs not counted)."""
    return sum((0 if c.deleted else 1) + count_comments(c.replies) for c in thread)


async def get_comment(session: AsyncSession, org_id: uuid.UUID, comment_id: uuid.UUID) -> CommentView:
    """One comment of the organization (a deleted one too, as a stub); NotFound otherwise."""
    row = (
        await session.execute(_view_select().where(Comment.organization_id == org_id, Comment.id == comment_id))
    ).one_or_none()
    if row is None:
        raise NotFound("No such comment.")
    return _view(row)


async def list_revisions(session: AsyncSession, org_id: uuid.UUID, comment_id: uuid.UUID) -> list:
    """Earlier texts of a comment, newest first."""
    rows = await session.execute(
        select(CommentRevision.content, CommentRevision.created_at, User.name)
        .outerjoin(User, User.id == CommentRevision.edited_by)
        .where(CommentRevision.organization_id == org_id, CommentRevision.comment_id == comment_id)
        .order_by(CommentRevision.created_at.desc())
    )
    return list(rows)


@dataclass(frozen=True)
class Discussion:
    """A recent comment with where it was made."""

    comment: CommentView
    kind: EntityKind
    title: str
    mission_id: uuid.UUID | None


async def recent_discussion(session: AsyncSession, ctx: RequestContext, limit: int = 8) -> list[Discussion]:
    """The organization's latest live comments on entities the caller may see, newest first."""
    rows = (
        await session.execute(
            _view_select()
            .where(Comment.organization_id == ctx.org_id, Comment.deleted_at.is_(None))
            .order_by(Comment.created_at.desc(), Comment.id.desc())
            .limit(limit * 3)
        )
    ).all()
    targets = await visible_targets(session, ctx, [(r.entity_type, r.entity_id) for r in rows])
    out: list[Discussion] = []
    for row in rows:
        target = targets.get((row.entity_type, row.entity_id))
        if target is None:
            continue  # the entity was deleted, or the caller may not see it
        out.append(Discussion(_view(row), target.kind, target.title, target.mission_id))
        if len(out) == limit:
            break
    return out


def unread_mentions_count(org_id, user_id):
    """Comments mentioning the user that they have not opened yet, as a scalar subquery (the frame's badge)."""
    return (
        select(func.count())
        .select_from(CommentMention)
        .join(
            Comment,
            and_(Comment.organization_id == CommentMention.organization_id, Comment.id == CommentMention.comment_id),
        )
        .where(
            CommentMention.organization_id == org_id,
            CommentMention.user_id == user_id,
            CommentMention.read_at.is_(None),
            Comment.deleted_at.is_(None),
        )
        .scalar_subquery()
    )


async def list_mentions(session: AsyncSession, ctx: RequestContext, limit: int = 50) -> list[tuple[Discussion, bool]]:
    """Comments that mention the caller, newest first, with whether each is unread."""
    rows = (
        await session.execute(
            _view_select()
            .add_columns(CommentMention.read_at.is_(None).label("unread"))
            .join(
                CommentMention,
                and_(
                    CommentMention.organization_id == Comment.organization_id, CommentMention.comment_id == Comment.id
                ),
            )
            .where(
                Comment.organization_id == ctx.org_id,
                CommentMention.user_id == ctx.user_id,
                Comment.deleted_at.is_(None),
            )
            .order_by(Comment.created_at.desc())
            .limit(limit)
        )
    ).all()
    targets = await visible_targets(session, ctx, [(r.entity_type, r.entity_id) for r in rows])
    out = []
    for row in rows:
        target = targets.get((row.entity_type, row.entity_id))
        if target is not None:
            out.append((Discussion(_view(row[:-1]), target.kind, target.title, target.mission_id), row.unread))
    return out
