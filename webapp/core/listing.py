"""Filtered, sorted, cursor-paged lists: one statement per shape (sort x filters present), built once and reused.

A list page runs on every keystroke of search-as-you-type, so statement construction is cached like
`KeysetQuery`: each shape is a `KeysetQuery` over (sort value, id) with bound parameters for the filters.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from quart import request
from sqlalchemy import Select, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.errors import BadRequest
from webapp.core.ids import parse_id
from webapp.core.pagination import KeysetQuery, Page, decode_cursor, encode_cursor

WORD = re.compile(r"[\w]+", re.UNICODE)


def prefix_query(text: str | None, max_words: int = 8) -> str | None:
    """A `to_tsquery('simple', ...)` string matching every word as a prefix: `mars alp` -> `mars:* & alp:*`."""
    words = WORD.findall((text or "").lower())[:max_words]
    return " & ".join(f"{w[:40]}:*" for w in words) or None


def like_pattern(text: str | None, max_length: int = 200) -> str | None:
    """`%text%` (lower-cased) with LIKE's wildcards escaped for `ESCAPE '\\'`, or None for no search."""
    text = (text or "").strip().lower()[:max_length]
    if not text:
        return None
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def tsvector_match(column):
    """Filter builder for a search column: matches the `q` bind parameter as word prefixes."""
    return lambda param: column.op("@@")(func.to_tsquery("simple", param))


@dataclass(frozen=True)
class Filter:
    """One list filter: how it narrows the statement (`where(bind parameter)`) and which values it accepts —
    a fixed vocabulary (`choices`), an id, or free text turned into a bound value by `prepare`."""

    where: Callable
    choices: tuple[str, ...] = ()
    is_id: bool = False
    prepare: Callable[[str], object] | None = None
    description: str = ""

    def clean(self, name: str, raw):
        """The bound value for `raw` (None: not filtered); a 400 naming the accepted values otherwise."""
        if raw is None or raw == "":
            return None
        if self.prepare is not None:
            return self.prepare(str(raw))
        if self.is_id:
            if isinstance(raw, uuid.UUID):
                return raw
            parsed = parse_id(raw)
            if parsed is None:
                raise BadRequest(
                    f"The {name} filter must be an id (a UUID).",
                    {"fields": {name: ["Not a valid id."]}, "value": str(raw)[:100]},
                )
            return parsed
        value = raw.value if isinstance(raw, Enum) else str(raw)
        if self.choices and value not in self.choices:
            options = ", ".join(self.choices)
            raise BadRequest(
                f"The {name} filter must be one of: {options}.",
                {"fields": {name: [f"Choose one of: {options}."]}, "value": value[:100]},
            )
        return value


def choice(values, where: Callable, description: str = "") -> Filter:
    """A filter over a fixed vocabulary (an enum class or its members)."""
    return Filter(
        where, choices=tuple(v.value if isinstance(v, Enum) else str(v) for v in values), description=description
    )


def by_id(where: Callable, description: str = "") -> Filter:
    """A filter on a related row's id."""
    return Filter(where, is_id=True, description=description)


def search(where: Callable, prepare: Callable[[str], object] = prefix_query, description: str = "") -> Filter:
    """A free-text filter; `prepare` turns the text into the bound value (None: no filter)."""
    return Filter(where, prepare=prepare, description=description)


def _one_tag(raw: str) -> str | None:
    tag = raw.strip().lstrip("#").lower()[:40]
    return json.dumps([tag]) if tag else None


def tagged(column, description: str = "Only items carrying this tag") -> Filter:
    """A filter on a JSONB `tags` column: rows carrying the tag (the column's GIN index or the list's own scan)."""
    return Filter(lambda p: column.op("@>")(cast(p, JSONB)), prepare=_one_tag, description=description)


@dataclass(frozen=True)
class Sort:
    """A parsed `sort=field:asc|desc`."""

    field: str
    descending: bool

    @property
    def text(self) -> str:
        """Back to the query-string form."""
        return f"{self.field}:{'desc' if self.descending else 'asc'}"


class Listing:
    """A list with whitelisted sorts and optional filters, paged by cursor."""

    def __init__(self, base: Select, *, id_column, sorts: dict, filters: dict[str, Filter], default_sort: str):
        self.base, self.id_column, self.sorts, self.filters = base, id_column, sorts, filters
        self.default_sort = self.parse_sort(default_sort)
        self._shapes: dict[tuple, KeysetQuery] = {}
        self._counts: dict[tuple, Select] = {}

    def parse_sort(self, raw: str | None) -> Sort:
        """`name:asc` -> Sort; unknown fields or directions are a 400 listing the choices."""
        if not raw:
            return self.default_sort
        field, _, direction = raw.partition(":")
        direction = direction or "asc"
        if field not in self.sorts or direction not in ("asc", "desc"):
            raise BadRequest(
                f"sort must be one of {', '.join(sorted(self.sorts))} followed by :asc or :desc.", {"sort": raw}
            )
        return Sort(field, direction == "desc")

    def _query(self, sort: Sort, present: tuple[str, ...]) -> KeysetQuery:
        shape = (sort, present)
        if shape not in self._shapes:
            sort_value = self.sorts[sort.field].label("sort_value")
            stmt = self.base.add_columns(sort_value)
            for name in present:
                stmt = stmt.where(self.filters[name].where(bindparam(name)))
            self._shapes[shape] = KeysetQuery(stmt, keys=[sort_value, self.id_column], descending=sort.descending)
        return self._shapes[shape]

    async def total(self, session: AsyncSession, scope: dict, filters: dict, first_page: Page) -> int:
        """The count above a list: the first page's length when it is the only page, else a COUNT query."""
        if not first_page.next_cursor:
            return len(first_page.items)
        return await self.count(session, scope, filters)

    async def count(self, session: AsyncSession, scope: dict, filters: dict) -> int:
        """How many rows match `filters` (as `page` takes them): the total a list shows above its first page."""
        filters = self.clean_filters(filters)
        present = tuple(sorted(filters))
        if present not in self._counts:
            stmt = self.base
            for name in present:
                stmt = stmt.where(self.filters[name].where(bindparam(name)))
            self._counts[present] = select(func.count()).select_from(stmt.subquery())
        return (await session.execute(self._counts[present], scope | filters)).scalar_one()

    def clean_filters(self, raw: dict) -> dict:
        """Bound values for the filters present in `raw` (as sent: strings, ids or enum members); a 400 naming
        the accepted values for one outside its vocabulary."""
        cleaned = {name: self.filters[name].clean(name, value) for name, value in raw.items() if name in self.filters}
        return {name: value for name, value in cleaned.items() if value is not None}

    def filtered(self, filters: dict) -> tuple[Select, dict]:
        """The base statement narrowed by `filters` (as `page` takes them), unsorted and unpaged, with its bound
        values: what an export streams."""
        cleaned = self.clean_filters(filters)
        stmt = self.base
        for name in sorted(cleaned):
            stmt = stmt.where(self.filters[name].where(bindparam(name)))
        return stmt, cleaned

    async def page(
        self,
        session: AsyncSession,
        scope: dict,
        *,
        sort: Sort | str | None,
        filters: dict,
        cursor: str | None,
        limit: int,
    ) -> Page:
        """One page; `scope` binds the base statement's parameters (the organization), `filters` maps filter
        names to values as sent (None or "" means not filtered), checked here against each filter's vocabulary."""
        sort = sort if isinstance(sort, Sort) else self.parse_sort(sort)
        filters = self.clean_filters(filters)
        present = tuple(sorted(filters))
        query = self._query(sort, present)
        inner = None
        if cursor:
            tag, inner = decode_cursor(cursor, 2)
            if tag != sort.text:
                raise BadRequest(
                    "This cursor belongs to another sort order; start from the first page.", {"cursor": cursor}
                )
        page = await query.page(session, scope | {k: filters[k] for k in present}, cursor=inner, limit=limit)
        if page.next_cursor:
            page.next_cursor = encode_cursor((sort.text, page.next_cursor))
        return page


LISTING_ATTR = "_closedloop_listing"


def lists(listing: Listing | dict[str, Listing], *, by: str | None = None) -> Callable:
    """Mark a route as serving `listing` (or, with `by`, the listing named by that route argument), so the OpenAPI
    document describes its query parameters and the generated filter tests find it."""

    def decorate(view: Callable) -> Callable:
        setattr(view, LISTING_ATTR, (listing, by))
        return view

    return decorate


def listing_of(view: Callable, view_args: dict | None = None) -> Listing | None:
    """The listing a route serves (for `by` routes, the one its arguments pick), or None."""
    marked = getattr(view, LISTING_ATTR, None)
    if marked is None:
        return None
    listing, by = marked
    return listing[(view_args or {})[by]] if by else listing


def list_args(*names: str, **defaults: str) -> dict:
    """A list page's filters as sent: `q` trimmed to 200 characters, then each of `names` (or `defaults`) as given."""
    args = request.args
    return (
        {"q": args.get("q", "").strip()[:200]}
        | {name: args.get(name, "") for name in names}
        | {name: args.get(name, value) for name, value in defaults.items()}
    )
