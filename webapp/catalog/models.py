"""waste_materials, processing_modules, module_maintenance, processing_recipes and recipe_lines (RLS)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
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
from sqlalchemy import (
    String as SqlString,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from webapp.catalog.enums import (
    LineDirection,
    MaintenanceKind,
    MaterialCategory,
    ModuleStatus,
    ModuleType,
    Resource,
)
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


def _item_rules(table: str) -> tuple:
    """What every catalog item shares: tenant key target, live-unique key, lengths, provenance is an object."""
    return (
        UniqueConstraint("organization_id", "id"),
        Index(
            f"uq_{table}_org_key_live",
            "organization_id",
            "key",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        CheckConstraint("key ~ '^[a-z][a-z0-9_]{1,47}$'", name="key_format"),
        CheckConstraint("char_length(name) BETWEEN 1 AND 120", name="name_length"),
        CheckConstraint("char_length(description) <= 2000", name="description_length"),
        CheckConstraint("jsonb_typeof(provenance) = 'object'", name="provenance_object"),
        CheckConstraint(TAGS_ARE_A_LIST, name="tags_array"),
    )


class CatalogItem(UUIDPrimaryKey, TenantOwned, Timestamps, SoftDelete, Versioned, Tagged):
    """Columns of every catalog row; `reference_key` names the reference-catalog entry it came from."""

    key: Mapped[str] = mapped_column(String(48))
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, server_default="")
    # {field: {"basis": "sourced|derived|estimate", "ref": "...", "note": "..."}} for each number
    provenance: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    reference_key: Mapped[str | None] = mapped_column(String(48))


class WasteMaterial(CatalogItem, Base):
    """A waste stream the crew generates, per crew-member-day."""

    __tablename__ = "waste_materials"
    __table_args__ = _item_rules("waste_materials") + (
        CheckConstraint("generation_kg_per_cm_day >= 0", name="generation_nonnegative"),
        CheckConstraint("moisture_fraction BETWEEN 0 AND 1", name="moisture_fraction_range"),
        CheckConstraint("density_kg_m3 > 0", name="density_positive"),
    )

    category: Mapped[MaterialCategory] = mapped_column(pg_enum(MaterialCategory, "material_category"))
    generation_kg_per_cm_day: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    moisture_fraction: Mapped[Decimal] = mapped_column(Numeric(5, 4), server_default=text("0"))
    density_kg_m3: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    hazardous: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class ProcessingModule(CatalogItem, Base):
    """A piece of equipment that runs recipes."""

    __tablename__ = "processing_modules"
    __table_args__ = _item_rules("processing_modules") + (
        CheckConstraint("throughput_kg_h >= 0", name="throughput_nonnegative"),
        CheckConstraint("power_kw >= 0", name="power_nonnegative"),
        CheckConstraint("hours_per_day > 0 AND hours_per_day <= 24", name="hours_per_day_range"),
        CheckConstraint("mtbf_h IS NULL OR mtbf_h > 0", name="mtbf_positive"),
        CheckConstraint("mttr_h IS NULL OR mttr_h >= 0", name="mttr_nonnegative"),
        CheckConstraint("spares_kg_per_repair IS NULL OR spares_kg_per_repair >= 0", name="spares_nonnegative"),
        CheckConstraint("consumables_kg_per_h IS NULL OR consumables_kg_per_h >= 0", name="consumables_nonnegative"),
        Index(
            "ix_processing_modules_org_status", "organization_id", "status", postgresql_where=text("deleted_at IS NULL")
        ),
    )

    module_type: Mapped[ModuleType] = mapped_column(pg_enum(ModuleType, "module_type"))
    throughput_kg_h: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    power_kw: Mapped[Decimal] = mapped_column(Numeric(10, 3))
    hours_per_day: Mapped[Decimal] = mapped_column(Numeric(4, 2))
    status: Mapped[ModuleStatus] = mapped_column(
        pg_enum(ModuleStatus, "module_status"), server_default=ModuleStatus.OPERATIONAL.value
    )
    mtbf_h: Mapped[Decimal | None] = mapped_column(Numeric(10, 1))
    mttr_h: Mapped[Decimal | None] = mapped_column(Numeric(10, 1))
    # logistics: spare parts one repair uses, and consumables (filters, liners, catalyst) per operating hour
    spares_kg_per_repair: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))
    consumables_kg_per_h: Mapped[Decimal | None] = mapped_column(Numeric(10, 4))
    next_maintenance_due: Mapped[date | None] = mapped_column(Date)


class ModuleMaintenance(UUIDPrimaryKey, TenantOwned, Base):
    """One entry of a module's maintenance log (append-only; status changes write one automatically)."""

    __tablename__ = "module_maintenance"
    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "module_id"],
            ["processing_modules.organization_id", "processing_modules.id"],
            ondelete="CASCADE",
        ),
        Index("ix_module_maintenance_module", "module_id", "performed_at"),
        CheckConstraint("char_length(note) <= 2000", name="note_length"),
        CheckConstraint("downtime_h IS NULL OR downtime_h >= 0", name="downtime_nonnegative"),
    )

    module_id: Mapped[uuid.UUID] = mapped_column()
    kind: Mapped[MaintenanceKind] = mapped_column(pg_enum(MaintenanceKind, "maintenance_kind"))
    status_from: Mapped[ModuleStatus | None] = mapped_column(pg_enum(ModuleStatus, "module_status"))
    status_to: Mapped[ModuleStatus | None] = mapped_column(pg_enum(ModuleStatus, "module_status"))
    downtime_h: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    note: Mapped[str] = mapped_column(Text, server_default="")
    performed_at: Mapped[datetime] = mapped_column(server_default=func.now())
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Recipe(CatalogItem, Base):
    """A batch process on one module: lines in, lines out (mass closes exactly), time, energy and crew time."""

    __tablename__ = "processing_recipes"
    __table_args__ = _item_rules("processing_recipes") + (
        ForeignKeyConstraint(
            ["organization_id", "module_id"], ["processing_modules.organization_id", "processing_modules.id"]
        ),
        Index("ix_processing_recipes_module", "module_id"),
        CheckConstraint("duration_h > 0", name="duration_positive"),
        CheckConstraint("energy_kwh >= 0", name="energy_nonnegative"),
        CheckConstraint("crew_h >= 0", name="crew_time_nonnegative"),
        CheckConstraint("priority BETWEEN 0 AND 1000", name="priority_range"),
        CheckConstraint("blend_min_share BETWEEN 0 AND 1", name="blend_share_range"),
    )

    module_id: Mapped[uuid.UUID] = mapped_column()
    duration_h: Mapped[Decimal] = mapped_column(Numeric(8, 3))
    energy_kwh: Mapped[Decimal] = mapped_column(Numeric(10, 3))
    crew_h: Mapped[Decimal] = mapped_column(Numeric(8, 3))
    priority: Mapped[int] = mapped_column(Integer, server_default=text("100"))
    # inputs that may be mixed (habitat.md §4.3): None keeps the lines' fixed ratio; a share lets the input lines be
    # mixed in any proportion as long as those marked `blend_group` make up at least this share of a batch
    blend_min_share: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))


class RecipeLine(UUIDPrimaryKey, TenantOwned, Base):
    """One input or output of a recipe: a catalog waste material or a resource, in kg per batch."""

    __tablename__ = "recipe_lines"
    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "recipe_id"],
            ["processing_recipes.organization_id", "processing_recipes.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["organization_id", "material_id"], ["waste_materials.organization_id", "waste_materials.id"]
        ),
        Index("ix_recipe_lines_recipe", "recipe_id", "position"),
        Index("ix_recipe_lines_material", "material_id", postgresql_where=text("material_id IS NOT NULL")),
        Index(
            "uq_recipe_lines_material",
            "recipe_id",
            "direction",
            "material_id",
            unique=True,
            postgresql_where=text("material_id IS NOT NULL"),
        ),
        Index(
            "uq_recipe_lines_resource",
            "recipe_id",
            "direction",
            "resource",
            unique=True,
            postgresql_where=text("resource IS NOT NULL"),
        ),
        CheckConstraint("(material_id IS NULL) <> (resource IS NULL)", name="material_or_resource"),
        CheckConstraint("kg > 0", name="kg_positive"),
        CheckConstraint("resource IS DISTINCT FROM 'loss' OR direction = 'output'", name="loss_is_output"),
        CheckConstraint("NOT blend_group OR direction = 'input'", name="blend_group_is_input"),
    )

    recipe_id: Mapped[uuid.UUID] = mapped_column()
    direction: Mapped[LineDirection] = mapped_column(pg_enum(LineDirection, "line_direction"))
    material_id: Mapped[uuid.UUID | None] = mapped_column()
    resource: Mapped[Resource | None] = mapped_column(pg_enum(Resource, "resource"))
    kg: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    position: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    blend_group: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))  # counts toward the blend's share


def _item_documents(model, *extra):
    def documents():
        return select(
            model.id.label("entity_id"),
            model.organization_id,
            model.name.label("title"),
            func.concat_ws(" ", model.description, model.key, *extra).label("body"),
            model.tags,
            func.cast(None, model.id.type).label("mission_id"),
        ).where(model.deleted_at.is_(None))

    return documents


def _catalog_page(kind: str):
    return lambda entity_id, mission_id: {"kind": kind, "item_id": entity_id}


register(
    EntityKind(
        "waste-materials",
        "Waste material",
        "Waste materials",
        WasteMaterial,
        "catalog:read",
        "catalog:write",
        _item_documents(WasteMaterial, cast(WasteMaterial.category, SqlString)),
        "catalog.show",
        _catalog_page("materials"),
        icon="trash-2",
    )
)
register(
    EntityKind(
        "processing-modules",
        "Processing module",
        "Processing modules",
        ProcessingModule,
        "catalog:read",
        "catalog:write",
        _item_documents(ProcessingModule, func.replace(cast(ProcessingModule.module_type, SqlString), "_", " ")),
        "catalog.show",
        _catalog_page("modules"),
        icon="cpu",
    )
)
register(
    EntityKind(
        "processing-recipes",
        "Recipe",
        "Recipes",
        Recipe,
        "catalog:read",
        "catalog:write",
        _item_documents(Recipe),
        "catalog.show",
        _catalog_page("recipes"),
        icon="flask-conical",
    )
)
