"""JSON bodies of the catalog API (the service's rules decide; these only fix the shape)."""
from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class Provenanced(BaseModel):
    """What every catalog body shares."""

    model_config = ConfigDict(extra="forbid")

    version: int | None = None
    key: str | None = Field(None, max_length=200, description="default: made from the name")
    name: str | None = Field(None, max_length=500)
    description: str | None = Field(None, max_length=10000)
    provenance: dict[str, dict[str, str]] | None = Field(
        None, description='{field: {"basis": "sourced|derived|estimate", "ref": "...", "note": "..."}}')


class MaterialBody(Provenanced):
    """POST /organizations/:org/waste-materials and PATCH /waste-materials/:id."""

    category: str | None = None
    generation_kg_per_cm_day: Decimal | None = None
    moisture_fraction: Decimal | None = None
    density_kg_m3: Decimal | None = None
    hazardous: bool | None = None


class ModuleBody(Provenanced):
    """POST /organizations/:org/modules and PATCH /processing-modules/:id."""

    module_type: str | None = None
    status: str | None = None
    status_note: str | None = Field(None, max_length=2000)
    throughput_kg_h: Decimal | None = None
    power_kw: Decimal | None = None
    hours_per_day: Decimal | None = None
    mtbf_h: Decimal | None = None
    mttr_h: Decimal | None = None
    next_maintenance_due: str | None = Field(None, description="YYYY-MM-DD")


class Line(BaseModel):
    """One recipe line: a waste material or a resource, kg per batch."""

    model_config = ConfigDict(extra="forbid")

    direction: str = Field(description="input or output")
    material_id: str | None = None
    resource: str | None = Field(None, description="regolith, plastic_flakes, hmc_tile, brick, water, loss, ...")
    kg: Decimal


class RecipeBody(Provenanced):
    """POST /organizations/:org/recipes and PATCH /processing-recipes/:id; lines replace all lines."""

    module_id: str | None = None
    duration_h: Decimal | None = None
    energy_kwh: Decimal | None = None
    crew_h: Decimal | None = None
    priority: int | None = None
    lines: list[Line] | None = None


class MaintenanceBody(BaseModel):
    """POST /processing-modules/:id/maintenance."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="inspection, preventive, repair, failure, note")
    note: str = Field("", max_length=10000)
    downtime_h: Decimal | None = None
    status: str | None = Field(None, description="move the module to this status as well")
