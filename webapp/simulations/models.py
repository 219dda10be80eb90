"""products (tenant-owned, RLS); simulation runs join them later."""
from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Numeric,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from webapp.catalog.enums import Resource
from webapp.core.db import (
    Base,
    SoftDelete,
    TenantOwned,
    Timestamps,
    UUIDPrimaryKey,
    Versioned,
)
from webapp.core.enums import pg_enum
from webapp.simulations.enums import ProductSource


class Product(UUIDPrimaryKey, TenantOwned, Timestamps, SoftDelete, Versioned, Base):
    """A quantity of something a mission made: recorded by hand or by a simulation run."""

    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("organization_id", "id"),
        ForeignKeyConstraint(["organization_id", "mission_id"], ["missions.organization_id", "missions.id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["organization_id", "recipe_id"],
                             ["processing_recipes.organization_id", "processing_recipes.id"]),
        Index("ix_products_mission_produced_live", "organization_id", "mission_id", "produced_at", "id",
              postgresql_where=text("deleted_at IS NULL")),
        Index("ix_products_org_produced_live", "organization_id", "produced_at", "id",
              postgresql_where=text("deleted_at IS NULL")),
        Index("ix_products_recipe", "recipe_id", postgresql_where=text("recipe_id IS NOT NULL")),
        CheckConstraint("quantity_kg > 0", name="quantity_positive"),
        CheckConstraint("product_type NOT IN ('regolith', 'loss')", name="product_type_is_product"),
        CheckConstraint("char_length(notes) <= 2000", name="notes_length"),
        CheckConstraint("(source = 'simulation') = (simulation_run_id IS NOT NULL)", name="simulation_has_run"),
    )

    mission_id: Mapped[uuid.UUID] = mapped_column()
    product_type: Mapped[Resource] = mapped_column(pg_enum(Resource, "resource"))
    quantity_kg: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    produced_at: Mapped[datetime] = mapped_column(server_default=func.now())
    recipe_id: Mapped[uuid.UUID | None] = mapped_column()
    source: Mapped[ProductSource] = mapped_column(pg_enum(ProductSource, "product_source"),
                                                  server_default=ProductSource.MANUAL.value)
    # the simulation_runs table arrives with the simulations issue; its composite foreign key comes with it
    simulation_run_id: Mapped[uuid.UUID | None] = mapped_column()
    notes: Mapped[str] = mapped_column(Text, server_default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
