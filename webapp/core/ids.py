"""UUIDv7 identifiers: time-ordered, so keyset pagination on id follows creation order."""

from __future__ import annotations

import uuid

import uuid6
from werkzeug.routing import BaseConverter


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


class OrgRefConverter(BaseConverter):
    """An organization in a JSON API path: its id (a UUID) or its address (slug); views get a UUID or the slug."""

    regex = (
        r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
        r"|[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?"
    )

    def to_python(self, value: str) -> uuid.UUID | str:
        """A UUID when the segment is one, else the slug."""
        return parse_id(value) if len(value) == 36 and parse_id(value) else value

    def to_url(self, value: object) -> str:
        """Ids and slugs alike, as text."""
        return str(value)
