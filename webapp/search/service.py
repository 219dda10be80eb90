"""Keeping search_index in step: every flush of a searchable entity rewrites its row in the same transaction, and
re-index jobs rebuild an organization from the same statement, so both paths make identical rows."""

from __future__ import annotations

import uuid
from collections import defaultdict
from itertools import chain

from sqlalchemy import String, bindparam, delete, event, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.db import AppSession
from webapp.core.entities import KINDS, EntityKind, kind_for_model, searchable_kinds
from webapp.search.models import SearchIndex

COLUMNS = ("organization_id", "entity_type", "entity_id", "mission_id", "title", "body", "tags", "tags_text")


def documents(kind: EntityKind):
    """The index rows of `kind` as a SELECT (live rows only; filter it by organization or ids)."""
    rows = kind.rows()
    if kind.indexed is not None:
        rows = rows.where(kind.indexed())
    return rows


def _insert_from(kind: EntityKind, rows):
    source = rows.subquery()
    words = func.jsonb_array_elements_text(source.c.tags).table_valued("value")
    tags_text = func.coalesce(select(func.string_agg(words.c.value, " ")).scalar_subquery(), "")
    # the table, not the entity: an ORM-enabled INSERT with parameters would be read as a bulk insert of rows
    return insert(SearchIndex.__table__).from_select(
        list(COLUMNS),
        select(
            source.c.organization_id,
            literal(kind.name, String),
            source.c.entity_id,
            source.c.mission_id,
            source.c.title,
            source.c.body,
            source.c.tags,
            tags_text,
        ),
    )


def refresh_statements(kind: EntityKind):
    """(delete, insert) for a list of ids bound as `ids`: the rows of those entities that are live, rewritten."""
    ids = bindparam("ids", expanding=True)
    table = SearchIndex.__table__
    drop = delete(table).where(table.c.entity_type == kind.name, table.c.entity_id.in_(ids))
    return drop, _insert_from(kind, documents(kind).where(kind.model.id.in_(ids)))


def _touched(session) -> dict[EntityKind, set[uuid.UUID]]:
    touched: dict[EntityKind, set[uuid.UUID]] = defaultdict(set)
    for obj in chain(session.new, session.dirty, session.deleted):
        kind = kind_for_model(type(obj))
        if kind is not None and kind.searchable:
            touched[kind].add(obj.id)
    return touched


@event.listens_for(AppSession, "after_flush")
def _follow_writes(session, flush_context) -> None:
    # runs inside the flush, in the writer's transaction: a reader sees the entity and its index row together
    touched = _touched(session)
    if not touched:
        return
    connection = session.connection()
    for kind, ids in touched.items():
        drop, add = refresh_statements(kind)
        connection.execute(drop, {"ids": list(ids)})
        connection.execute(add, {"ids": list(ids)})


async def refresh(session: AsyncSession, kind_name: str, ids) -> None:
    """Rewrite the rows of entities a bulk statement wrote (the flush hook sees only the objects the ORM flushes)."""
    ids = list(ids)
    if not ids:
        return
    drop, add = refresh_statements(KINDS[kind_name])
    await session.execute(drop, {"ids": ids})
    await session.execute(add, {"ids": ids})


async def reindex_organization(session: AsyncSession, org_id: uuid.UUID, kind_name: str | None = None) -> dict:
    """Rebuild one organization's rows (one kind, or all): what live maintenance would have written."""
    kinds = [KINDS[kind_name]] if kind_name else searchable_kinds()
    counts = {}
    for kind in kinds:
        table = SearchIndex.__table__
        await session.execute(delete(table).where(table.c.organization_id == org_id, table.c.entity_type == kind.name))
        result = await session.execute(_insert_from(kind, documents(kind).where(kind.model.organization_id == org_id)))
        counts[kind.name] = result.rowcount
    return counts
