"""Keyset (cursor) pagination: stable under inserts, no OFFSET scans."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, bindparam, literal_column, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.driver import Prepared, fetch_prepared
from webapp.core.errors import BadRequest

T = TypeVar("T")
MAX_LIMIT = 100


@dataclass
class Page(Generic[T]):
    """One page of rows plus the cursor of the next one (None at the end)."""

    items: list[T]
    next_cursor: str | None


def _encode_value(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"day": value.isoformat()}
    if isinstance(value, Decimal):
        return {"d": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and "u" in value:
        return uuid.UUID(value["u"])
    if isinstance(value, dict) and "t" in value:
        return datetime.fromisoformat(value["t"])
    if isinstance(value, dict) and "day" in value:
        return date.fromisoformat(value["day"])
    if isinstance(value, dict) and "d" in value:
        return Decimal(value["d"])
    return value


def encode_cursor(values: tuple) -> str:
    """Opaque, URL-safe cursor from the last row's key values."""
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> tuple:
    """Key values from a cursor; a 400 when it was not made by encode_cursor."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != width:
            raise ValueError
        return tuple(_decode_value(v) for v in values)
    except (ValueError, TypeError, ArithmeticError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest("The cursor is invalid.", {"cursor": cursor}) from exc


def parse_limit(raw: str | None, default: int = 25) -> int:
    """A page size between 1 and MAX_LIMIT; a 400 otherwise."""
    if raw in (None, ""):
        return default
    try:
        limit = int(raw)
    except ValueError as exc:
        raise BadRequest("limit must be an integer.", {"limit": raw}) from exc
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}.", {"limit": limit})
    return limit


def _page_order(stmt: Select, keys: list, descending: bool) -> Select:
    return stmt.order_by(*[k.desc() if descending else k.asc() for k in keys])


def _after(keys: list, values: tuple, descending: bool):
    key_tuple, value_tuple = tuple_(*keys), tuple_(*values)
    return key_tuple < value_tuple if descending else key_tuple > value_tuple


def _page_of(rows: list, keys: list, limit: int) -> Page:
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(tuple(getattr(rows[-1], k.key) for k in keys))
    return Page(rows, next_cursor)


def _typed(keys: list, values: tuple, cursor: str) -> tuple:
    """The cursor's values when each has its key column's type (a cursor of another list is a 400, not a 500)."""
    for key, value in zip(keys, values, strict=True):
        try:
            expected = key.type.python_type
        except NotImplementedError:  # a column type with no Python type (none of our keys today): not checked
            continue
        if not isinstance(value, expected):
            raise BadRequest("The cursor is invalid.", {"cursor": cursor})
    return values


async def paginate(
    session: AsyncSession,
    stmt: Select,
    *,
    keys: list,
    descending: bool = True,
    cursor: str | None = None,
    limit: int = 25,
    scalars: bool = True,
) -> Page:
    """Run `stmt` ordered by `keys` (all one direction), after `cursor`, one page long."""
    if cursor:
        stmt = stmt.where(_after(keys, _typed(keys, decode_cursor(cursor, len(keys)), cursor), descending))
    result = await session.execute(_page_order(stmt, keys, descending).limit(limit + 1))
    return _page_of(list(result.scalars() if scalars else result.all()), keys, limit)


class KeysetQuery:
    """A fixed-shape list built once, with bound parameters for its filters and cursor.

    Hot list pages use it instead of paginate(): building and cache-keying a statement costs
    more than running it (bench/http.py). Filters are bindparam()s named in `params`; rows are
    column rows (select columns, not entities). The page size is written into the statement, one
    statement per size asked for: with `LIMIT $n` PostgreSQL estimates a tenth of the table for the
    generic plan, so it plans the statement afresh on every execution — for a 25-row page that
    planning cost several times the query itself.
    """

    def __init__(self, stmt: Select, *, keys: list, descending: bool = True) -> None:
        self.keys = keys
        after = tuple(bindparam(f"after_{i}", type_=k.type) for i, k in enumerate(keys))
        self._ordered = (
            _page_order(stmt, keys, descending),
            _page_order(stmt.where(_after(keys, after, descending)), keys, descending),
        )
        self._sized: dict[tuple[bool, int], Prepared] = {}

    def _statement(self, following: bool, rows: int) -> Prepared:
        found = self._sized.get((following, rows))
        if found is None:  # a handful of sizes in practice (1 to MAX_LIMIT + 1 rows), two shapes each
            found = Prepared(self._ordered[following].limit(literal_column(str(int(rows)))))
            self._sized[(following, rows)] = found
        return found

    async def page(self, session: AsyncSession, params: dict, *, cursor: str | None = None, limit: int = 25) -> Page:
        """One page for these filter values, after `cursor`."""
        stmt = self._statement(bool(cursor), limit + 1)
        if cursor:
            params = dict(params)
            params.update({f"after_{i}": v for i, v in enumerate(decode_cursor(cursor, len(self.keys)))})
        return _page_of(await fetch_prepared(session, stmt, params), self.keys, limit)
