"""The registry of entities people work with: what comments, attachments and search may point at.

A domain adds its entity in one `register(...)` line beside its models. Each entry says how to read its live rows as
(entity_id, title, body, tags, mission_id) — the one statement behind a comment's target check, the titles of
recent discussion and the search index — which permission shows it, and which page shows it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select

from webapp.core.errors import NotFound


@dataclass(frozen=True)
class EntityKind:
    """One kind of entity: its name in URLs and rows, how to read it, who may see it, where it lives."""

    name: str  # "mission": the entity_type of comments, attachments and search rows
    label: str  # "Mission"
    plural: str  # "Missions"
    model: type  # its SQLAlchemy model (the search index follows its flushes)
    read: str  # the permission that shows it
    write: str  # the permission that changes it (attaching files to it)
    # select(entity_id, organization_id, title, body, tags, mission_id) over its live rows
    rows: Callable[[], Select]
    endpoint: str  # url_for endpoint of its page
    page_args: Callable[[uuid.UUID, uuid.UUID | None], dict]  # (entity id, mission id) -> url_for arguments
    indexed: Callable[[], ColumnElement] | None = None  # which rows the search index holds (None: all)
    searchable: bool = True
    icon: str = "file"


KINDS: dict[str, EntityKind] = {}


def register(kind: EntityKind) -> EntityKind:
    """Add an entity kind (one line per domain, beside its models)."""
    KINDS[kind.name] = kind
    return kind


def kind_of(name: str) -> EntityKind:
    """The kind called `name`; an unknown one is a 404, like a missing entity."""
    kind = KINDS.get(name)
    if kind is None:
        raise NotFound("No such kind of item.")
    return kind


def kind_for_model(model: type) -> EntityKind | None:
    """The kind whose rows `model` holds, if any."""
    for kind in KINDS.values():
        if kind.model is model:
            return kind
    return None


def entity_type_converter() -> str:
    """The URL converter matching the registered kinds' names (`<any(...):entity_type>`); call it once every domain's
    models are imported (webapp.models)."""
    return "any({})".format(", ".join(f'"{name}"' for name in KINDS))


def searchable_kinds() -> list[EntityKind]:
    """Kinds the search index holds, in registry order."""
    return [k for k in KINDS.values() if k.searchable]
