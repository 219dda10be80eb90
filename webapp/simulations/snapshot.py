"""A run's input snapshot: the mission's planning settings and the catalog, frozen as plain JSON at start."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from webapp.catalog.enums import Resource, Sink
from webapp.catalog.reference import resource_densities

# each named sink's capacity and drain a day (propellant storage only fills): NULL is unlimited
SINK_SETTINGS = tuple(
    name for sink in Sink for name in (f"{sink}_capacity_kg", *([f"{sink}_drain_kg_per_day"] if sink.drains else []))
)
MISSION_SETTINGS = (
    "recycle_target_kg_per_day",
    "energy_budget_kwh_per_day",
    "crew_time_h_per_day",
    "regolith_supply_kg_per_day",
    "storage_volume_m3",
    "wet_waste_cap_days",
    *SINK_SETTINGS,
)


def _plain(value):
    """JSON-friendly numbers: Decimals become floats, None stays None."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _blend(blend: dict | None) -> dict | None:
    if not blend:
        return None
    return {"min_share": float(blend["min_share"]), "of": list(blend.get("of") or [])}


def make_snapshot(
    mission: dict, materials: list[dict], modules: list[dict], recipes: list[dict], start_date: date
) -> dict:
    """Assemble the snapshot from plain rows; recipes carry `inputs`/`outputs` as {item key: kg}."""
    return {
        "start_date": start_date.isoformat(),
        "mission": {k: _plain(mission.get(k)) for k in ("id", "name", "destination", "crew_size", *MISSION_SETTINGS)},
        "materials": [
            {
                k: _plain(m.get(k))
                for k in (
                    "id",
                    "key",
                    "name",
                    "category",
                    "generation_kg_per_cm_day",
                    "moisture_fraction",
                    "density_kg_m3",
                    "hazardous",
                )
            }
            for m in materials
        ],
        "modules": [
            {
                k: _plain(m.get(k))
                for k in (
                    "id",
                    "key",
                    "name",
                    "status",
                    "hours_per_day",
                    "power_kw",
                    "mtbf_h",
                    "mttr_h",
                    "spares_kg_per_repair",
                    "consumables_kg_per_h",
                    "next_maintenance_due",
                )
            }
            for m in modules
        ],
        "recipes": [
            {
                **{
                    k: _plain(r.get(k))
                    for k in ("id", "key", "name", "module", "priority", "duration_h", "energy_kwh", "crew_h")
                },
                "inputs": {key: float(kg) for key, kg in r["inputs"].items()},
                "outputs": {key: float(kg) for key, kg in r["outputs"].items()},
                # inputs that may be mixed: the `of` inputs at least `min_share` of each batch (engine/model.py)
                "blend": _blend(r.get("blend")),
            }
            for r in recipes
        ],
        "resource_names": [r.value for r in Resource],
        "resource_densities": resource_densities(),
        # what each named sink takes; its capacity and drain are the mission's settings (<key>_capacity_kg, ...)
        "sinks": [
            {"key": sink.value, "name": sink.label, "resources": [r.value for r in sink.resources]} for sink in Sink
        ],
    }


DEFAULT_SETTINGS = {
    "recycle_target_kg_per_day": 3,
    "energy_budget_kwh_per_day": 60,
    "crew_time_h_per_day": 2,
    "regolith_supply_kg_per_day": 60,
    "storage_volume_m3": None,
    "wet_waste_cap_days": 3,
}


def reference_snapshot(crew_size: int = 4, start_date: date | None = None, **settings) -> dict:
    """The snapshot of a mission using the reference catalog as shipped (benchmarks, tests, docs)."""
    from webapp.catalog.reference import reference_catalog

    catalog = reference_catalog()
    used_modules = {r["module"] for r in catalog["recipes"]}
    mission = {
        "id": None,
        "name": "Reference mission",
        "destination": "moon",
        "crew_size": crew_size,
        **DEFAULT_SETTINGS,
        **settings,
    }
    modules = [dict(m, status="operational") for m in catalog["modules"] if m["key"] in used_modules]
    recipes = [
        dict(
            r,
            inputs={line.get("material") or line["resource"]: line["kg"] for line in r["inputs"]},
            outputs={line.get("material") or line["resource"]: line["kg"] for line in r["outputs"]},
        )
        for r in catalog["recipes"]
    ]
    return make_snapshot(mission, catalog["materials"], modules, recipes, start_date or date(2030, 1, 1))
