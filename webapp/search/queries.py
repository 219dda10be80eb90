"""Search over search_index: websearch_to_tsquery semantics (quotes, `or`, `-`) with prefix matching on the last
word, ts_rank_cd ranking, highlighted snippets, entity-type and tag filters, keyset pagination, and only what the
caller's organization holds and the caller may see."""

from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass

from markupsafe import Markup
from sqlalchemy import REAL, String, and_, bindparam, cast, false, func, literal_column, or_, select, tuple_
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


def _tsquery(words: bool, prefix: bool):
    """The tsquery of the bound words (`rest`, websearch semantics) and last-word prefix (`prefix`)."""
    prefixed = func.to_tsquery(CONFIG, bindparam("prefix", type_=String) + ":*") if prefix else None
    if not words:
        return prefixed
    query = func.websearch_to_tsquery(CONFIG, bindparam("rest", type_=String))
    return query.op("&&")(prefixed) if prefixed is not None else query


def clean_tags(raw) -> list[str]:
    """Tag filters: lowercase words, at most MAX_TAGS."""
    tags = [t.strip().lower() for t in (raw or []) if t and t.strip()]
    if len(tags) > MAX_TAGS:
        raise ValidationError.field("tags", f"Filter by at most {MAX_TAGS} tags.")
    return list(dict.fromkeys(tags))


def visible(ctx: RequestContext):
    """The rows the caller may see: kinds they read organization-wide, and mission-scoped kinds of their missions
    (None when that is every row: no filter)."""
    kinds = searchable_kinds()
    readable = [k.name for k in kinds if ctx.can(k.read)]
    if len(readable) == len(kinds):
        return None  # the usual case: no filter at all
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


def _build(words: bool, prefix: bool, entity_type: bool, tags: bool, cursor: bool, visibility=None):
    """The SELECT of one shape of search, every value bound (see search_statement for the names)."""
    query = _tsquery(words, prefix)
    rank = func.ts_rank_cd(SearchIndex.search_vector, query, 32) if query is not None else literal_column("0.0")
    rank = cast(rank, REAL).label("rank")
    hits = select(
        SearchIndex.entity_type,
        SearchIndex.entity_id,
        SearchIndex.mission_id,
        SearchIndex.title,
        SearchIndex.body,
        SearchIndex.tags,
        rank,
    ).where(SearchIndex.organization_id == bindparam("org_id"))
    if visibility is not None:
        hits = hits.where(visibility)
    if query is not None:
        hits = hits.where(SearchIndex.search_vector.op("@@")(query))
    if entity_type:
        hits = hits.where(SearchIndex.entity_type == bindparam("entity_type", type_=String))
    if tags:
        hits = hits.where(SearchIndex.tags.op("@>")(bindparam("tags", type_=JSONB)))
    if cursor:
        key = tuple_(rank, SearchIndex.entity_type, SearchIndex.entity_id)
        after = tuple_(
            bindparam("after_rank", type_=REAL), bindparam("after_type", type_=String), bindparam("after_id")
        )
        hits = hits.where(key < after)
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


# built once per shape (which of words, prefix, kind, tags, cursor are given): search-as-you-type runs this on every
# key press, and building and compiling a statement costs more than the index scan of a tag filter
_built = functools.lru_cache(maxsize=32)(_build)


def search_statement(ctx: RequestContext, q: str, *, entity_type=None, tags=None, cursor=None):
    """(statement, values) of one page of hits for checked input; run it with values + {"page_limit": limit + 1}."""
    rest, prefix = split_query(q) if q else ("", None)
    values = {"org_id": ctx.org_id, "rest": rest or None, "prefix": prefix, "entity_type": entity_type}
    values |= {"tags": tags or None}
    if cursor:
        values |= {"after_rank": float(cursor[0]), "after_type": cursor[1], "after_id": cursor[2]}
    shape = (bool(rest), prefix is not None, bool(entity_type), bool(tags), bool(cursor))
    visibility = visible(ctx)
    stmt = _built(*shape) if visibility is None else _build(*shape, visibility)
    return stmt, {k: v for k, v in values.items() if v is not None}


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
    stmt, values = search_statement(ctx, q, entity_type=entity_type, tags=tags, cursor=after)
    rows = (await fetch_rows(session, stmt, values | {"page_limit": limit + 1})).all()
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
