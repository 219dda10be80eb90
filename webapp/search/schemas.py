"""JSON shapes of search."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

import webapp.models  # noqa: F401 - every entity kind is registered before the schemas list them
from webapp.core.entities import searchable_kinds
from webapp.core.openapi import Body
from webapp.core.pagination import MAX_LIMIT
from webapp.search.enums import ReindexStatus


class SearchQuery(BaseModel):
    """Query of GET /search."""

    model_config = ConfigDict(extra="ignore")

    q: str = Field(
        "",
        max_length=200,
        description='Words to find: "quotes" for a phrase, `or` for either, `-word` to leave one out; the last word '
        "also matches as the start of a word. Empty: filter by tags alone.",
    )
    entity_type: str | None = Field(None, description="Only this kind (missions, processing-modules, …)")
    tags: str | None = Field(None, max_length=420, description="Comma-separated tags every hit carries")
    org_id: uuid.UUID | None = Field(None, description="The credential's organization (any other one is a 404)")
    limit: int = Field(20, ge=1, le=MAX_LIMIT, description="Hits per page")
    cursor: str | None = Field(None, description="`next_cursor` of the previous page")


class HitOut(BaseModel):
    """One hit, best first."""

    entity_type: str
    entity_id: uuid.UUID
    mission_id: uuid.UUID | None
    title: str
    title_html: str = Field(description="The title with matched words in <mark> (escaped HTML)")
    snippet_html: str = Field(description="Where the words matched in the text, with <mark> (escaped HTML)")
    tags: list[str]
    rank: float
    url: str = Field(description="The hit's page in the browser")


class SearchResults(BaseModel):
    """A page of hits."""

    items: list[HitOut]
    next_cursor: str | None


class ReindexIn(Body):
    """Body of POST /search/reindex: one kind, or (null or left out) everything."""

    entity_type: Literal[tuple(k.name for k in searchable_kinds())] | None = Field(  # type: ignore[valid-type]
        None, description="one kind; null or left out: all"
    )


class ReindexJobOut(BaseModel):
    """A rebuild of the search index run by a worker; `done` of `total` steps (organization × kind)."""

    id: uuid.UUID
    status: ReindexStatus
    progress: int = Field(ge=0, le=100)
    done: int
    total: int
    rows: int = Field(description="index rows written so far")
    entity_type: str | None
    error: str | None
    attempt: int
    finished: bool
