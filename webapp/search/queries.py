"""Search over search_index: websearch_to_tsquery semantics (quotes, `or`, `-`) with prefix matching on the last
word, ts_rank_cd ranking, highlighted snippets, entity-type and tag filters, keyset pagination, and only what the
caller's organization holds and the caller may see."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from markupsafe import Markup
from sqlalchemy import REAL, String, and_, bindparam, cast, false, func, literal, or_, select, true, tuple_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.db import fetch_rows
from webapp.core.entities import KINDS, searchable_kinds
from webapp.core.errors import ValidationError
from webapp.core.pagination import decode_cursor, encode_cursor
from webapp.core.tenancy import RequestContext
from webapp.search.models import CONFIG, SearchIndex

MAX_QUERY = 200
MAX_TAGS = 10
# private-use characters mark the highlighted words: the text is escaped first, then the marks become <mark>
START, STOP = "\ue000", "\ue001"
HEADLINE = f'StartSel="{START}", StopSel="{STOP}", MaxWords=24, MinWords=8, MaxFragments=2, FragmentDelimiter=" … "'
TITLE_HEADLINE = f'StartSel="{START}", StopSel="{STOP}", HighlightAll=true'
PLAIN_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Hit:
    """One search result."""

    entity_type: str
    entity_id: uuid.UUID
    mission_id: uuid.UUID | None
    title: str
    tags: list[str]
    rank: float
    title_html: Markup
    snippet_html: Markup

    @property
    def kind(self):
        """The entity kind (label, icon, page)."""
        return KINDS[self.entity_type]


@dataclass(frozen=True)
class Results:
    """A page of hits and the cursor of the next one."""

    items: list[Hit]
    next_cursor: str | None


def split_query(q: str) -> tuple[str, str | None]:
    """(websearch text, last word to match as a prefix): the last word is a prefix when it is a plain word that
    is not quoted, negated or part of an `or`."""
    q = q.strip()
    tokens = q.split()
    if not tokens or q.count('"') % 2 == 1 or q.endswith('"'):
        return q, None
    last = tokens[-1]
    before = tokens[-2].lower() if len(tokens) > 1 else ""
    if not PLAIN_WORD.fullmatch(last) or last.lower() == "or" or before == "or":
        return q, None
    return " ".join(tokens[:-1]), last


def tsquery(q: str):
    """The tsquery of a user's text (never raises on odd input: websearch_to_tsquery accepts anything)."""
    rest, prefix = split_query(q)
    if prefix is None:
        return func.websearch_to_tsquery(CONFIG, rest)
    prefixed = func.to_tsquery(CONFIG, literal(prefix, String) + ":*")
    if not rest:
        return prefixed
    return func.websearch_to_tsquery(CONFIG, rest).op("&&")(prefixed)


def clean_tags(raw) -> list[str]:
    """Tag filters: lowercase words, at most MAX_TAGS."""
    tags = [t.strip().lower() for t in (raw or []) if t and t.strip()]
    if len(tags) > MAX_TAGS:
        raise ValidationError.field("tags", f"Filter by at most {MAX_TAGS} tags.")
    return list(dict.fromkeys(tags))


def visible(ctx: RequestContext):
    """The rows the caller may see: kinds they read organization-wide, and mission-scoped kinds of their missions."""
    kinds = searchable_kinds()
    readable = [k.name for k in kinds if ctx.can(k.read)]
    if len(readable) == len(kinds):
        return true()  # the usual case: no filter at all
    clauses = [SearchIndex.entity_type.in_(readable)] if readable else []
    for kind in kinds:
        missions = [m for m, perms in ctx.mission_permissions.items() if kind.read in perms]
        if kind.name not in readable and missions:
            clauses.append(and_(SearchIndex.entity_type == kind.name, SearchIndex.mission_id.in_(missions)))
    return or_(*clauses) if clauses else false()


def _escaped(column):
    """HTML-escape in SQL before ts_headline: its parser would take `<b>` for markup and drop it; entities it keeps
    whole, so the headline is escaped text in which only the marks are to become tags."""
    return func.replace(func.replace(func.replace(column, "&", "&amp;"), "<", "&lt;"), ">", "&gt;")


def _marked(escaped: str | None) -> Markup:
    # the text came escaped from SQL; a stray bracket would be a bug upstream, so it is escaped again, not trusted
    safe = (escaped or "").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return Markup(safe.replace(START, "<mark>").replace(STOP, "</mark>"))


def search_statement(ctx: RequestContext, q: str, *, entity_type=None, tags=None, cursor=None):
    """The SELECT of one page of hits (checked input in, statement out); run it with {"page_limit": limit + 1}."""
    query = tsquery(q) if q else None
    rank = func.ts_rank_cd(SearchIndex.search_vector, query, 32) if query is not None else literal(0.0, REAL)
    rank = cast(rank, REAL).label("rank")
    hits = select(
        SearchIndex.entity_type,
        SearchIndex.entity_id,
        SearchIndex.mission_id,
        SearchIndex.title,
        SearchIndex.body,
        SearchIndex.tags,
        rank,
    ).where(SearchIndex.organization_id == ctx.org_id, visible(ctx))
    if query is not None:
        hits = hits.where(SearchIndex.search_vector.op("@@")(query))
    if entity_type:
        hits = hits.where(SearchIndex.entity_type == entity_type)
    if tags:
        hits = hits.where(SearchIndex.tags.op("@>")(cast(literal(tags, JSONB), JSONB)))
    if cursor:
        after_rank, after_type, after_id = cursor
        key = tuple_(rank, SearchIndex.entity_type, SearchIndex.entity_id)
        hits = hits.where(
            key < tuple_(cast(literal(float(after_rank)), REAL), literal(after_type, String), literal(after_id))
        )
    page = hits.order_by(rank.desc(), SearchIndex.entity_type.desc(), SearchIndex.entity_id.desc()).limit(
        bindparam("page_limit")
    )
    top = page.subquery("top")
    if query is not None:
        title_html = func.ts_headline(CONFIG, _escaped(top.c.title), query, TITLE_HEADLINE)
        snippet_html = func.ts_headline(CONFIG, _escaped(top.c.body), query, HEADLINE)
    else:
        title_html, snippet_html = _escaped(top.c.title), _escaped(func.left(top.c.body, 160))
    return select(top, title_html.label("title_html"), snippet_html.label("snippet_html")).order_by(
        top.c.rank.desc(), top.c.entity_type.desc(), top.c.entity_id.desc()
    )


async def search(
    session: AsyncSession,
    ctx: RequestContext,
    q: str,
    *,
    entity_type: str | None = None,
    tags: list[str] | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> Results:
    """One page of the caller's organization's matches, best first; `q` may be empty when filtering by tags."""
    q = (q or "").strip()
    if len(q) > MAX_QUERY:
        raise ValidationError.field("q", f"Search for at most {MAX_QUERY} characters.")
    if entity_type is not None and (entity_type not in KINDS or not KINDS[entity_type].searchable):
        names = ", ".join(k.name for k in searchable_kinds())
        raise ValidationError.field("entity_type", f"Not a searchable kind; one of {names}.")
    tags = clean_tags(tags)
    if not q and not tags:
        return Results([], None)
    after = None
    if cursor:
        after = decode_cursor(cursor, 3)
        if (
            not isinstance(after[0], (int, float))
            or not isinstance(after[1], str)
            or not isinstance(after[2], uuid.UUID)
        ):
            raise ValidationError.field("cursor", "The cursor is invalid.")
    stmt = search_statement(ctx, q, entity_type=entity_type, tags=tags, cursor=after)
    rows = (await fetch_rows(session, stmt, {"page_limit": limit + 1})).all()
    items = [
        Hit(r.entity_type, r.entity_id, r.mission_id, r.title, r.tags, r.rank, _marked(r.title_html),
            _marked(r.snippet_html))
        for r in rows[:limit]
    ]  # fmt: skip
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode_cursor((last.rank, last.entity_type, last.entity_id))
    return Results(items, next_cursor)


def grouped(items: list[Hit]) -> list[tuple[object, list[Hit]]]:
    """Hits grouped by kind, kinds in the order their best hit ranks."""
    groups: dict[str, list[Hit]] = {}
    for hit in items:
        groups.setdefault(hit.entity_type, []).append(hit)
    return [(KINDS[name], hits) for name, hits in groups.items()]
