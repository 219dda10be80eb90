"""Filtered, sorted, cursor-paged lists: one statement per shape (sort x filters present), built once and reused.

A list page runs on every keystroke of search-as-you-type, so statement construction is cached like
`KeysetQuery`: each shape is a `KeysetQuery` over (sort value, id) with bound parameters for the filters.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Select, bindparam, func
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.errors import BadRequest
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

    def __init__(self, base: Select, *, id_column, sorts: dict, filters: dict[str, Callable], default_sort: str):
        self.base, self.id_column, self.sorts, self.filters = base, id_column, sorts, filters
        self.default_sort = self.parse_sort(default_sort)
        self._shapes: dict[tuple, KeysetQuery] = {}

    def parse_sort(self, raw: str | None) -> Sort:
        """`name:asc` -> Sort; unknown fields or directions are a 400 listing the choices."""
        if not raw:
            return self.default_sort
        field, _, direction = raw.partition(":")
        direction = direction or "asc"
        if field not in self.sorts or direction not in ("asc", "desc"):
            raise BadRequest(f"sort must be one of {', '.join(sorted(self.sorts))} followed by :asc or :desc.",
                             {"sort": raw})
        return Sort(field, direction == "desc")

    def _query(self, sort: Sort, present: tuple[str, ...]) -> KeysetQuery:
        shape = (sort, present)
        if shape not in self._shapes:
            sort_value = self.sorts[sort.field].label("sort_value")
            stmt = self.base.add_columns(sort_value)
            for name in present:
                stmt = stmt.where(self.filters[name](bindparam(name)))
            self._shapes[shape] = KeysetQuery(stmt, keys=[sort_value, self.id_column], descending=sort.descending)
        return self._shapes[shape]

    async def page(self, session: AsyncSession, scope: dict, *, sort: Sort, filters: dict, cursor: str | None,
                   limit: int) -> Page:
        """One page; `scope` binds the base statement's parameters (the organization), `filters` maps filter
        names to values (None or "" means not filtered)."""
        present = tuple(sorted(k for k, v in filters.items() if v not in (None, "") and k in self.filters))
        query = self._query(sort, present)
        inner = None
        if cursor:
            tag, inner = decode_cursor(cursor, 2)
            if tag != sort.text:
                raise BadRequest("This cursor belongs to another sort order; start from the first page.",
                                 {"cursor": cursor})
        page = await query.page(session, scope | {k: filters[k] for k in present}, cursor=inner, limit=limit)
        if page.next_cursor:
            page.next_cursor = encode_cursor((sort.text, page.next_cursor))
        return page
