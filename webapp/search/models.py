"""search_index: one row per live searchable entity, with a weighted stored tsvector (seed 000 §1, §5)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Computed, ForeignKey, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import Base

# the text search configuration of the stored vector; queries must use the same one to use the index
CONFIG = "english"
# title weighs more than body (A > B); tags count as title words so a tag is found by a plain query too
DOCUMENT = (
    f"setweight(to_tsvector('{CONFIG}', coalesce(title, '')), 'A') || "
    f"setweight(to_tsvector('{CONFIG}', coalesce(tags_text, '')), 'A') || "
    f"setweight(to_tsvector('{CONFIG}', coalesce(body, '')), 'B')"
)


class SearchIndex(Base):
    """What search reads: the entity's title, body and tags, kept in step with its writes (webapp.search.service)."""

    __tablename__ = "search_index"
    __table_args__ = (
        Index("ix_search_index_vector", "search_vector", postgresql_using="gin"),
        Index("ix_search_index_tags", "tags", postgresql_using="gin", postgresql_ops={"tags": "jsonb_path_ops"}),
        Index("ix_search_index_entity", "entity_type", "entity_id"),
        CheckConstraint("jsonb_typeof(tags) = 'array'", name="tags_array"),
        CheckConstraint("char_length(entity_type) BETWEEN 1 AND 40", name="entity_type_length"),
    )

    # one row per entity; the organization leads the key so the table stays distributable by tenant
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    entity_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    entity_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    mission_id: Mapped[uuid.UUID | None] = mapped_column()  # for mission-scoped permissions and links
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, server_default="")
    tags: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    tags_text: Mapped[str] = mapped_column(Text, server_default="")
    search_vector: Mapped[str] = mapped_column(TSVECTOR, Computed(DOCUMENT, persisted=True))
    indexed_at: Mapped[datetime] = mapped_column(server_default=func.now())
