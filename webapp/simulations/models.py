"""simulation_runs, simulation_logs and products (tenant-owned, RLS)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    cast,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from webapp.catalog.enums import Resource
from webapp.core.db import (
    TAGS_ARE_A_LIST,
    Base,
    SoftDelete,
    Tagged,
    TenantOwned,
    Timestamps,
    UUIDPrimaryKey,
    Versioned,
)
from webapp.core.entities import EntityKind, register
from webapp.core.enums import pg_enum
from webapp.simulations.enums import LogLevel, ProductKind, RunStatus, RunType


class Product(UUIDPrimaryKey, TenantOwned, Timestamps, SoftDelete, Versioned, Tagged, Base):
    """A quantity of a product for one mission: recorded by the crew, or planned for a day by a simulation run."""

    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("organization_id", "id"),
        CheckConstraint(TAGS_ARE_A_LIST, name="tags_array"),
        ForeignKeyConstraint(
            ["organization_id", "mission_id"], ["missions.organization_id", "missions.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["organization_id", "recipe_id"], ["processing_recipes.organization_id", "processing_recipes.id"]
        ),
        Index(
            "ix_products_mission_produced_live",
            "organization_id",
            "mission_id",
            "produced_at",
            "id",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index(
            "ix_products_org_produced_live",
            "organization_id",
            "produced_at",
            "id",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_products_recipe", "recipe_id", postgresql_where=text("recipe_id IS NOT NULL")),
        CheckConstraint("quantity_kg > 0", name="quantity_positive"),
        CheckConstraint("product_type NOT IN ('regolith', 'loss')", name="product_type_is_product"),
        CheckConstraint("char_length(notes) <= 2000", name="notes_length"),
        CheckConstraint("(kind = 'planned') = (simulation_run_id IS NOT NULL)", name="planned_has_run"),
        ForeignKeyConstraint(
            ["organization_id", "simulation_run_id"],
            ["simulation_runs.organization_id", "simulation_runs.id"],
            ondelete="CASCADE",
        ),
        # a run plans each (recipe, product, day) once, even if its task is delivered twice
        Index(
            "uq_products_run_recipe_type_day",
            "simulation_run_id",
            "recipe_id",
            "product_type",
            "produced_at",
            unique=True,
            postgresql_where=text("simulation_run_id IS NOT NULL"),
            postgresql_nulls_not_distinct=True,
        ),
        Index(
            "ix_products_mission_kind_live",
            "organization_id",
            "mission_id",
            "kind",
            "product_type",
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    mission_id: Mapped[uuid.UUID] = mapped_column()
    product_type: Mapped[Resource] = mapped_column(pg_enum(Resource, "resource"))
    quantity_kg: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    produced_at: Mapped[datetime] = mapped_column(server_default=func.now())
    recipe_id: Mapped[uuid.UUID | None] = mapped_column()
    kind: Mapped[ProductKind] = mapped_column(
        pg_enum(ProductKind, "product_kind"), server_default=ProductKind.RECORDED.value
    )
    simulation_run_id: Mapped[uuid.UUID | None] = mapped_column()
    notes: Mapped[str] = mapped_column(Text, server_default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class SimulationRun(UUIDPrimaryKey, TenantOwned, Timestamps, SoftDelete, Versioned, Tagged, Base):
    """One planning run of a mission: its inputs frozen at start, its progress, and its results."""

    __tablename__ = "simulation_runs"
    __table_args__ = (
        UniqueConstraint("organization_id", "id"),
        CheckConstraint(TAGS_ARE_A_LIST, name="tags_array"),
        ForeignKeyConstraint(
            ["organization_id", "mission_id"], ["missions.organization_id", "missions.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["organization_id", "rerun_of"], ["simulation_runs.organization_id", "simulation_runs.id"]
        ),
        Index(
            "ix_simulation_runs_mission_live",
            "organization_id",
            "mission_id",
            "id",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index(
            "ix_simulation_runs_active",
            "status",
            "heartbeat_at",
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
        CheckConstraint("char_length(name) BETWEEN 1 AND 120", name="name_length"),
        CheckConstraint("progress_percent BETWEEN 0 AND 100", name="progress_range"),
        CheckConstraint("attempt >= 0", name="attempt_nonnegative"),
        CheckConstraint("jsonb_typeof(config) = 'object'", name="config_object"),
        CheckConstraint(
            "status <> 'succeeded' OR (results IS NOT NULL AND progress_percent = 100)", name="succeeded_has_results"
        ),
        CheckConstraint(
            "(status IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL)", name="finished_when_final"
        ),
    )

    mission_id: Mapped[uuid.UUID] = mapped_column()
    name: Mapped[str] = mapped_column(String(120))
    run_type: Mapped[RunType] = mapped_column(pg_enum(RunType, "simulation_run_type"))
    status: Mapped[RunStatus] = mapped_column(
        pg_enum(RunStatus, "simulation_run_status"), server_default=RunStatus.QUEUED.value
    )
    config: Mapped[dict] = mapped_column(JSONB)
    input_snapshot: Mapped[dict] = mapped_column(JSONB)
    engine_version: Mapped[str] = mapped_column(String(20))
    seed: Mapped[int] = mapped_column(BigInteger)
    progress_percent: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    progress_message: Mapped[str] = mapped_column(Text, server_default="")
    attempt: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    heartbeat_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    cancel_requested_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    error_constraint: Mapped[str | None] = mapped_column(String(40))
    summary: Mapped[dict | None] = mapped_column(JSONB)
    results: Mapped[dict | None] = mapped_column(JSONB)
    rerun_of: Mapped[uuid.UUID | None] = mapped_column()
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class SimulationLog(UUIDPrimaryKey, TenantOwned, Base):
    """One line of a run's log (append-only; the worker writes them in batches with its progress)."""

    __tablename__ = "simulation_logs"
    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "run_id"], ["simulation_runs.organization_id", "simulation_runs.id"], ondelete="CASCADE"
        ),
        Index("ix_simulation_logs_run", "run_id", "id"),
        CheckConstraint("char_length(message) BETWEEN 1 AND 2000", name="message_length"),
    )

    run_id: Mapped[uuid.UUID] = mapped_column()
    attempt: Mapped[int] = mapped_column(Integer)
    level: Mapped[LogLevel] = mapped_column(pg_enum(LogLevel, "simulation_log_level"))
    message: Mapped[str] = mapped_column(Text)
    progress_percent: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


def _run_documents():
    return select(
        SimulationRun.id.label("entity_id"),
        SimulationRun.organization_id,
        SimulationRun.name.label("title"),
        func.replace(cast(SimulationRun.run_type, String), "_", " ").label("body"),
        SimulationRun.tags,
        SimulationRun.mission_id,
    ).where(SimulationRun.deleted_at.is_(None))


def _product_documents():
    kind = func.initcap(func.replace(cast(Product.product_type, String), "_", " "))
    return select(
        Product.id.label("entity_id"),
        Product.organization_id,
        func.concat(kind, " · ", func.round(Product.quantity_kg, 2), " kg").label("title"),
        func.concat_ws(" ", cast(Product.kind, String), Product.notes).label("body"),
        Product.tags,
        Product.mission_id,
    ).where(Product.deleted_at.is_(None))


register(
    EntityKind(
        "simulation-runs",
        "Simulation run",
        "Simulation runs",
        SimulationRun,
        "simulations:read",
        "simulations:run",
        _run_documents,
        "simulations.show",
        lambda entity_id, mission_id: {"run_id": entity_id},
        icon="play",
    )
)
register(
    EntityKind(
        "products",
        "Product",
        "Products",
        Product,
        "products:read",
        "products:write",
        _product_documents,
        "products.show",
        lambda entity_id, mission_id: {"product_id": entity_id},
        icon="package",
        # what a run plans for each day is part of the run, not something to look up on its own
        indexed=lambda: Product.kind == ProductKind.RECORDED,
    )
)
