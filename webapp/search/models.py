"""search_index: one row per live searchable entity, with a weighted stored tsvector (seed 000 §1, §5)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Computed, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import Base, Timestamps, UUIDPrimaryKey, Versioned
from webapp.core.enums import pg_enum
from webapp.search.enums import ReindexStatus

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
        # 16 hash partitions by organization (migration 0014 makes them): a query's GIN scan sees one partition
        {"postgresql_partition_by": "HASH (organization_id)"},
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


class ReindexJob(UUIDPrimaryKey, Timestamps, Versioned, Base):
    """A rebuild of the search index run by a worker: one organization (one kind, or all), or every organization
    (organization_id NULL: platform staff's rebuild)."""

    __tablename__ = "search_reindex_jobs"
    __table_args__ = (
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress_range"),
        CheckConstraint("done >= 0 AND total >= 0", name="counts_nonnegative"),
        Index("ix_search_reindex_jobs_org_created", "organization_id", "created_at"),
        Index("ix_search_reindex_jobs_active", "status", postgresql_where=text("status IN ('queued', 'running')")),
    )

    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    entity_type: Mapped[str | None] = mapped_column(String(40))
    requested_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[ReindexStatus] = mapped_column(
        pg_enum(ReindexStatus, "search_reindex_status"), server_default=ReindexStatus.QUEUED.value
    )
    progress: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    done: Mapped[int] = mapped_column(Integer, server_default=text("0"))  # organizations × kinds rebuilt
    total: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    rows: Mapped[int] = mapped_column(Integer, server_default=text("0"))  # index rows written
    attempt: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
