"""JSON shapes of the catalog API. The limits mirror the service's rules (catalog.service.*), which still decide:
a body that fits these shapes can still break a rule (a recipe's mass must balance, a key must be unique)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field

from webapp.catalog.enums import (
    Basis,
    LineDirection,
    MaintenanceKind,
    MaterialCategory,
    ModuleStatus,
    ModuleType,
    Resource,
)
from webapp.core.openapi import VERSION, Body, TagList, places, whole

KEY = r"^[a-z][a-z0-9_]{1,47}$"


class Provenance(Body):
    """Where one number comes from; a sourced number names its reference."""

    basis: Basis
    ref: str = Field("", max_length=200, description="the reference (habitat.md key, paper, datasheet)")
    note: str = Field("", max_length=500)


class ProvenanceOut(BaseModel):
    """A number's provenance as stored."""

    basis: Basis
    ref: str | None = None
    note: str | None = None


class ItemFields(Body):
    """What every catalog body may carry."""

    key: str | None = Field(None, pattern=KEY, description="default: made from the name")
    description: str | None = Field(None, max_length=2000)
    tags: TagList | None = None


class MaterialProvenance(Body):
    """Provenance of a waste material's numbers."""

    generation_kg_per_cm_day: Provenance | None = None
    moisture_fraction: Provenance | None = None
    density_kg_m3: Provenance | None = None


class MaterialIn(ItemFields):
    """Body of POST /organizations/:org/waste-materials."""

    name: str = Field(min_length=1, max_length=120)
    category: MaterialCategory
    generation_kg_per_cm_day: float = Field(
        ge=0, le=50, description="kg per crew-member-day", json_schema_extra=places(4)
    )
    moisture_fraction: float | None = Field(
        None, ge=0, le=1, description="mass fraction; default 0", json_schema_extra=places(4)
    )
    density_kg_m3: float = Field(gt=0, le=25_000, json_schema_extra=places(2))
    hazardous: bool = False
    provenance: MaterialProvenance | None = None


class MaterialPatch(ItemFields):
    """Body of PATCH /waste-materials/:id: the fields to change and the version read."""

    version: VERSION | None = None
    name: str | None = Field(None, min_length=1, max_length=120)
    category: MaterialCategory | None = None
    generation_kg_per_cm_day: float | None = Field(None, ge=0, le=50, json_schema_extra=places(4))
    moisture_fraction: float | None = Field(None, ge=0, le=1, json_schema_extra=places(4))
    density_kg_m3: float | None = Field(None, gt=0, le=25_000, json_schema_extra=places(2))
    hazardous: bool | None = None
    provenance: MaterialProvenance | None = None


class ModuleProvenance(Body):
    """Provenance of a processing module's numbers."""

    throughput_kg_h: Provenance | None = None
    power_kw: Provenance | None = None
    hours_per_day: Provenance | None = None
    mtbf_h: Provenance | None = None
    mttr_h: Provenance | None = None
    spares_kg_per_repair: Provenance | None = None
    consumables_kg_per_h: Provenance | None = None


class ModuleIn(ItemFields):
    """Body of POST /organizations/:org/modules."""

    name: str = Field(min_length=1, max_length=120)
    module_type: ModuleType
    status: ModuleStatus = ModuleStatus.OPERATIONAL
    status_note: str | None = Field(None, max_length=2000)
    throughput_kg_h: float = Field(ge=0, le=100_000, json_schema_extra=places(4))
    power_kw: float = Field(ge=0, le=100_000, json_schema_extra=places(3))
    hours_per_day: float = Field(gt=0, le=24, json_schema_extra=places(2))
    mtbf_h: float | None = Field(
        None, gt=0, le=10**8, description="mean time between failures", json_schema_extra=places(1)
    )
    mttr_h: float | None = Field(None, ge=0, le=10**6, description="mean time to repair", json_schema_extra=places(1))
    spares_kg_per_repair: float | None = Field(
        None, ge=0, le=100_000, description="kg of spare parts one repair uses", json_schema_extra=places(3)
    )
    consumables_kg_per_h: float | None = Field(
        None,
        ge=0,
        le=1_000,
        description="kg of consumables (filters, liners, catalyst) used per operating hour",
        json_schema_extra=places(4),
    )
    next_maintenance_due: date | None = None
    provenance: ModuleProvenance | None = None


class ModulePatch(ItemFields):
    """Body of PATCH /processing-modules/:id; a status change is logged in the maintenance log."""

    version: VERSION | None = None
    name: str | None = Field(None, min_length=1, max_length=120)
    module_type: ModuleType | None = None
    status: ModuleStatus | None = None
    status_note: str | None = Field(None, max_length=2000)
    throughput_kg_h: float | None = Field(None, ge=0, le=100_000, json_schema_extra=places(4))
    power_kw: float | None = Field(None, ge=0, le=100_000, json_schema_extra=places(3))
    hours_per_day: float | None = Field(None, gt=0, le=24, json_schema_extra=places(2))
    mtbf_h: float | None = Field(None, gt=0, le=10**8, json_schema_extra=places(1))
    mttr_h: float | None = Field(None, ge=0, le=10**6, json_schema_extra=places(1))
    spares_kg_per_repair: float | None = Field(None, ge=0, le=100_000, json_schema_extra=places(3))
    consumables_kg_per_h: float | None = Field(None, ge=0, le=1_000, json_schema_extra=places(4))
    next_maintenance_due: date | None = None
    provenance: ModuleProvenance | None = None


# a recipe's blend (habitat.md §4.3), the same on a create and an edit
BlendShare = Annotated[
    float | None,
    Field(
        ge=0,
        le=1,
        json_schema_extra=places(4),
        description="null: the inputs keep the listed ratio; a share: they may be mixed in any proportion (same total "
        "per batch) as long as the lines marked blend_group make up at least this share (0: any mix)",
    ),
]
BlendGroup = Annotated[
    bool | None, Field(description="an input that counts toward the recipe's blend_min_share; left out: as it was")
]


class MaterialLine(Body):
    """A recipe line on one of the organization's waste materials, kg per batch."""

    direction: LineDirection
    material_id: uuid.UUID
    kg: float = Field(gt=0, le=100_000, json_schema_extra=places(4))
    blend_group: BlendGroup = None


class ResourceLine(Body):
    """A recipe line on a resource (regolith, an intermediate, a product, or the `loss` sink), kg per batch."""

    direction: LineDirection
    resource: Resource
    kg: float = Field(gt=0, le=100_000, json_schema_extra=places(4))
    blend_group: BlendGroup = None


Line = MaterialLine | ResourceLine


class RecipeProvenance(Body):
    """Provenance of a recipe's numbers and of its lines as a whole."""

    duration_h: Provenance | None = None
    energy_kwh: Provenance | None = None
    crew_h: Provenance | None = None
    lines: Provenance | None = None


class RecipeIn(ItemFields):
    """Body of POST /organizations/:org/recipes; inputs and outputs must balance in mass."""

    name: str = Field(min_length=1, max_length=120)
    module_id: uuid.UUID
    duration_h: float = Field(gt=0, le=10_000, json_schema_extra=places(3))
    energy_kwh: float = Field(ge=0, le=100_000, json_schema_extra=places(3))
    crew_h: float = Field(ge=0, le=10_000, json_schema_extra=places(3))
    priority: whole(0, 1000) | None = Field(None, description="lower runs first; default 100")
    blend_min_share: BlendShare = None
    lines: list[Line] = Field(min_length=1, max_length=20)
    provenance: RecipeProvenance | None = None


class RecipePatch(ItemFields):
    """Body of PATCH /processing-recipes/:id; `lines` replace all lines."""

    version: VERSION | None = None
    name: str | None = Field(None, min_length=1, max_length=120)
    module_id: uuid.UUID | None = None
    duration_h: float | None = Field(None, gt=0, le=10_000, json_schema_extra=places(3))
    energy_kwh: float | None = Field(None, ge=0, le=100_000, json_schema_extra=places(3))
    crew_h: float | None = Field(None, ge=0, le=10_000, json_schema_extra=places(3))
    priority: whole(0, 1000) | None = Field(None)
    blend_min_share: BlendShare = None
    lines: list[Line] | None = Field(None, min_length=1, max_length=20)
    provenance: RecipeProvenance | None = None


class MaintenanceIn(Body):
    """Body of POST /processing-modules/:id/maintenance."""

    kind: MaintenanceKind = Field(description="what happened (status_change is made by `status`)")
    note: str = Field("", max_length=2000)
    downtime_h: float | None = Field(None, ge=0, le=100_000, json_schema_extra=places(2))
    status: ModuleStatus | None = Field(None, description="move the module to this status as well")


class ItemOut(BaseModel):
    """What every catalog item shows."""

    id: uuid.UUID
    key: str
    name: str
    description: str
    provenance: dict[str, ProvenanceOut]
    reference_key: str | None = Field(description="the reference-catalog entry it started from")
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    version: int


class MaterialOut(ItemOut):
    """A waste material."""

    category: MaterialCategory
    generation_kg_per_cm_day: float
    moisture_fraction: float
    density_kg_m3: float
    hazardous: bool


class ModuleOut(ItemOut):
    """A processing module."""

    module_type: ModuleType
    status: ModuleStatus
    throughput_kg_h: float
    power_kw: float
    hours_per_day: float
    mtbf_h: float | None
    mttr_h: float | None
    spares_kg_per_repair: float | None
    consumables_kg_per_h: float | None
    next_maintenance_due: date | None


class LineOut(BaseModel):
    """A recipe line as stored."""

    direction: LineDirection
    material_id: uuid.UUID | None
    material_key: str | None
    resource: Resource | None
    kg: float
    blend_group: bool


class RecipeOut(ItemOut):
    """A recipe with its lines."""

    module_id: uuid.UUID
    duration_h: float
    energy_kwh: float
    crew_h: float
    priority: int
    blend_min_share: float | None
    lines: list[LineOut]


class MaintenanceOut(BaseModel):
    """One maintenance log entry."""

    id: uuid.UUID
    kind: MaintenanceKind
    status_from: ModuleStatus | None
    status_to: ModuleStatus | None
    downtime_h: float | None
    note: str
    performed_at: datetime
    recorded_by_name: str | None = Field(None, description="who logged it (the log lists it)")
