"""The reference catalog (reference_catalog.json, written from reference/habitat.md §4): loaded and checked once.

Every number in the file is `{value, basis, ref?, note?}`; entries become column values plus a provenance map
`{field: {basis, ref, note}}` that the UI shows beside each number.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from pathlib import Path

from webapp.catalog.enums import Basis, MaterialCategory, ModuleType, Resource

PATH = Path(__file__).with_name("reference_catalog.json")

MATERIAL_NUMBERS = ("generation_kg_per_cm_day", "moisture_fraction", "density_kg_m3")
MODULE_NUMBERS = (
    "throughput_kg_h",
    "power_kw",
    "hours_per_day",
    "mtbf_h",
    "mttr_h",
    "spares_kg_per_repair",
    "consumables_kg_per_h",
)
RECIPE_NUMBERS = ("duration_h", "energy_kwh", "crew_h")
RESOURCE_NUMBERS = ("density_kg_m3",)


class ReferenceCatalogError(ValueError):
    """The data file breaks a rule (a test and the loader both check it)."""


def _number(entry: dict, field: str) -> tuple[Decimal | None, dict | None]:
    cell = entry.get(field)
    if cell is None:
        return None, None
    basis = Basis(cell["basis"])
    if basis == Basis.SOURCED and not cell.get("ref"):
        raise ReferenceCatalogError(f"{entry['key']}.{field} is sourced but names no reference")
    provenance = {"basis": basis.value} | {k: cell[k] for k in ("ref", "note") if cell.get(k)}
    value = cell.get("value")
    return (None if value is None else Decimal(str(value))), provenance


def _split(entry: dict, numbers: tuple[str, ...], extra_provenance: tuple[str, ...] = ()) -> dict:
    """Column values and the provenance map of one entry."""
    values, provenance = {}, {}
    for field in numbers + extra_provenance:
        value, source = _number(entry, field)
        if field in numbers:
            values[field] = value
        if source:
            provenance[field] = source
    plain = {k: v for k, v in entry.items() if k not in numbers + extra_provenance}
    return plain | values | {"provenance": provenance}


@cache
def reference_catalog() -> dict:
    """{"materials": [...], "modules": [...], "recipes": [...], "references": {...}} with values as Decimals."""
    raw = json.loads(PATH.read_text(encoding="utf-8"))
    materials = [_split(m, MATERIAL_NUMBERS) for m in raw["materials"]]
    modules = [_split(m, MODULE_NUMBERS) for m in raw["modules"]]
    recipes = [_split(r, RECIPE_NUMBERS, ("lines",)) for r in raw["recipes"]]
    material_keys, module_keys = {m["key"] for m in materials}, {m["key"] for m in modules}
    for m in materials:
        MaterialCategory(m["category"])
    for m in modules:
        ModuleType(m["module_type"])
    for r in recipes:
        if r["module"] not in module_keys:
            raise ReferenceCatalogError(f"recipe {r['key']} names unknown module {r['module']}")
        for line in r["inputs"] + r["outputs"]:
            line["kg"] = Decimal(str(line["kg"]))
            if "material" in line and line["material"] not in material_keys:
                raise ReferenceCatalogError(f"recipe {r['key']} names unknown material {line['material']}")
            if "resource" in line:
                Resource(line["resource"])
        blend = r.get("blend")
        if blend is not None:
            Basis(blend["basis"])
            inputs = {line.get("material") for line in r["inputs"]}
            if not 0 <= blend["min_share"] <= 1 or not set(blend.get("of", ())) <= inputs:
                raise ReferenceCatalogError(f"recipe {r['key']}'s blend needs a share in [0, 1] of its own inputs")
        kg_in, kg_out = sum(x["kg"] for x in r["inputs"]), sum(x["kg"] for x in r["outputs"])
        if kg_in != kg_out:
            raise ReferenceCatalogError(f"recipe {r['key']} does not balance: {kg_in} kg in, {kg_out} kg out")
    resources = [_split(r, RESOURCE_NUMBERS) for r in raw["resources"]]
    for r in resources:
        Resource(r["key"])
        if not r["density_kg_m3"] or r["density_kg_m3"] <= 0:
            raise ReferenceCatalogError(f"resource {r['key']} needs a density above 0")
    return {"materials": materials, "modules": modules, "recipes": recipes, "resources": resources,
            "references": raw["references"]}  # fmt: skip


def resource_densities() -> dict[str, float]:
    """kg/m³ as stored of each resource a recipe makes (products, intermediates, residue, regolith): the same for
    every organization, so a run's storage volumes and volume reduction compare across organizations."""
    return {r["key"]: float(r["density_kg_m3"]) for r in reference_catalog()["resources"]}


def reference_entry(kind: str, key: str) -> dict | None:
    """One entry of the reference catalog (`kind` is materials, modules or recipes), or None."""
    return next((e for e in reference_catalog()[kind] if e["key"] == key), None)


def reference_title(key: str) -> str | None:
    """The full citation behind a reference key, e.g. BVAD-R2."""
    return reference_catalog()["references"].get(key)
