"""UUIDv7 identifiers: time-ordered, so keyset pagination on id follows creation order."""
from __future__ import annotations

import uuid

import uuid6


def new_id() -> uuid.UUID:
    """Return a fresh UUIDv7 as a standard uuid.UUID."""
    return uuid.UUID(bytes=uuid6.uuid7().bytes)


def parse_id(value: object) -> uuid.UUID | None:
    """Parse a UUID from user input; None when it is not one."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None
