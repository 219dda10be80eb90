"""How each catalog kind appears on the pages: list columns, inline-editable fields, filters, CSV columns."""

from __future__ import annotations

from dataclasses import dataclass

from webapp.catalog.enums import MaterialCategory, ModuleStatus, ModuleType
from webapp.catalog.forms import option_label
from webapp.catalog.service.imports import columns as import_columns
from webapp.catalog.service.items import Kind
from webapp.catalog.service.materials import MATERIALS
from webapp.catalog.service.modules import MODULES
from webapp.catalog.service.recipes import RECIPES


@dataclass(frozen=True)
class Column:
    """One list column: the field, its header, and how it shows."""

    field: str
    label: str
    num: bool = False
    sortable: bool = False
    badge: bool = False  # show the provenance badge beside the value


@dataclass(frozen=True)
class Filter:
    """A select above the list."""

    name: str
    any_label: str
    options: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CatalogPage:
    """A catalog kind as the browser sees it."""

    kind: str  # URL segment and queries kind
    service: Kind
    title: str
    intro: str
    columns: tuple[Column, ...]
    inline: tuple[str, ...]  # fields the inline row edits
    filters: tuple[Filter, ...] = ()
    importable: bool = False

    @property
    def entity_type(self) -> str:
        """The kind's name in comments, attachments and search (webapp.core.entities)."""
        return {"materials": "waste-materials", "modules": "processing-modules", "recipes": "processing-recipes"}[
            self.kind
        ]

    @property
    def what(self) -> str:
        """The singular, e.g. `waste material`."""
        return self.service.what

    @property
    def csv_columns(self) -> tuple[str, ...]:
        """Export columns; for importable kinds exactly what the import reads, so an export imports back."""
        if self.importable:
            return import_columns(self.service)[1]
        return (
            "key",
            "name",
            "description",
            "module",
            "duration_h",
            "energy_kwh",
            "crew_h",
            "priority",
            "inputs",
            "outputs",
        )

    @property
    def import_columns(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(required, allowed) import columns."""
        return import_columns(self.service)


def _options(enum_cls) -> tuple[tuple[str, str], ...]:
    return tuple((m.value, option_label(m.value)) for m in enum_cls)


PAGES = {
    "materials": CatalogPage(
        kind="materials",
        service=MATERIALS,
        title="Waste materials",
        intro="What the crew throws away, per crew-member-day. Missions multiply these rates by their crew size.",
        columns=(
            Column("name", "Name", sortable=True),
            Column("category", "Category", sortable=True),
            Column("generation_kg_per_cm_day", "kg/CM-day", num=True, sortable=True, badge=True),
            Column("moisture_fraction", "Moisture", num=True, badge=True),
            Column("density_kg_m3", "Density kg/m³", num=True, sortable=True, badge=True),
            Column("hazardous", "Hazard"),
        ),
        inline=("generation_kg_per_cm_day", "moisture_fraction", "density_kg_m3", "hazardous"),
        filters=(Filter("category", "Any category", _options(MaterialCategory)),),
        importable=True,
    ),
    "modules": CatalogPage(
        kind="modules",
        service=MODULES,
        title="Processing modules",
        intro="The equipment that runs recipes. Only operational and degraded modules are available to simulations.",
        columns=(
            Column("name", "Name", sortable=True),
            Column("module_type", "Type", sortable=True),
            Column("status", "Status", sortable=True),
            Column("throughput_kg_h", "kg/h", num=True, sortable=True, badge=True),
            Column("power_kw", "kW", num=True, sortable=True, badge=True),
            Column("hours_per_day", "h/day", num=True, badge=True),
            Column("next_maintenance_due", "Next maintenance"),
        ),
        inline=("status", "throughput_kg_h", "power_kw", "hours_per_day", "next_maintenance_due"),
        filters=(
            Filter("status", "Any status", _options(ModuleStatus)),
            Filter("module_type", "Any type", _options(ModuleType)),
        ),
        importable=True,
    ),
    "recipes": CatalogPage(
        kind="recipes",
        service=RECIPES,
        title="Recipes",
        intro="Batch processes on one module: inputs become outputs, and the mass always balances.",
        columns=(
            Column("name", "Name", sortable=True),
            Column("module_id", "Module"),
            Column("duration_h", "h/batch", num=True, sortable=True, badge=True),
            Column("energy_kwh", "kWh/batch", num=True, sortable=True, badge=True),
            Column("crew_h", "Crew h", num=True, badge=True),
            Column("priority", "Priority", num=True, sortable=True),
        ),
        inline=("duration_h", "energy_kwh", "crew_h", "priority"),
    ),
}
