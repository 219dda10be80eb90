"""Keyset (cursor) pagination: stable under inserts, no OFFSET scans."""
from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

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
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and "u" in value:
        return uuid.UUID(value["u"])
    if isinstance(value, dict) and "t" in value:
        return datetime.fromisoformat(value["t"])
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
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
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
        after = decode_cursor(cursor, len(keys))
        key_tuple, value_tuple = tuple_(*keys), tuple_(*after)
        stmt = stmt.where(key_tuple < value_tuple if descending else key_tuple > value_tuple)
    stmt = stmt.order_by(*[k.desc() if descending else k.asc() for k in keys]).limit(limit + 1)
    result = await session.execute(stmt)
    rows = list(result.scalars() if scalars else result.all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(tuple(getattr(last, k.key) for k in keys))
    return Page(rows, next_cursor)
