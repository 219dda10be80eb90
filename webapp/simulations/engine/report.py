"""From batches per day to what people read: daily series, KPIs (habitat.md §3.6) and the mass-balance check."""

from __future__ import annotations

import numpy as np

from webapp.simulations.engine import sinks
from webapp.simulations.engine.model import COMPACTED, NOT_TRASH, Problem

ROUND = 4
SINK_SLACK_KG = 1e-6  # what the policies' slack and floating point may leave above a sink's capacity


def _series(values: np.ndarray) -> list[float]:
    return [round(float(v), ROUND) for v in values]


def flows(p: Problem, batches: np.ndarray) -> dict[str, np.ndarray]:
    """Daily consumption, production and end-of-day stock per item (T, I), loss included; each named sink's level
    and what it passed on (T, S)."""
    consumed = batches @ p.inputs
    produced = batches @ p.outputs
    stock = np.cumsum(p.arrivals_by_day() + produced - consumed, axis=0)
    level, passed = sinks.levels(p.sinks, p.net, batches)
    return {"consumed": consumed, "produced": produced, "stock": stock, "sink_level": level, "sink_passed": passed}


def waste_shares(p: Problem, totals: np.ndarray) -> np.ndarray:
    """Share of each recipe's input mass that came from waste, following intermediates back to their sources."""
    return _shares(p, totals)[0]


def _shares(p: Problem, totals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(per recipe, per item) share of mass that came from waste; an item made by several recipes carries their
    average, and what consumes it draws at that average."""
    item_share = p.mask("waste").astype(float)
    resource = p.mask("resource") | p.mask("loss") | p.mask("residue")
    made = p.outputs * totals[:, None]  # (R, I) kg each recipe made of each item over the horizon
    made_total = made.sum(axis=0)
    recipe_share = np.zeros(len(p.recipe_keys))
    for _ in range(8):  # chains are short (flakes -> brick); a few passes reach the fixed point
        mass_in = p.inputs.sum(axis=1)
        recipe_share = np.divide(p.inputs @ item_share, mass_in, out=np.zeros_like(mass_in), where=mass_in > 0)
        derived = np.divide(made.T @ recipe_share, made_total, out=np.zeros_like(made_total), where=made_total > 0)
        item_share = np.where(resource, derived, item_share)
    return recipe_share, item_share


def logistics(p: Problem, batches: np.ndarray, repairs: np.ndarray | None = None) -> dict[str, float]:
    """Logistics mass the plan costs (kg): consumables by operating hour, and spares by repair — `repairs` (K,) when
    a scenario's failures are known, else the expected number, operating hours / MTBF (failures come per operating
    hour, engine/failures.py)."""
    K = len(p.module_keys)
    run_h = np.bincount(p.recipe_module, weights=batches.sum(axis=0) * p.duration_h, minlength=K)
    if repairs is None:
        fails = np.isfinite(p.mtbf_h) & (p.mttr_h > 0)  # as engine/failures.py draws them
        repairs = np.where(fails, run_h / np.where(fails, p.mtbf_h, 1.0), 0.0)
    spares = float(repairs @ p.spares_kg) if p.spares_kg is not None else 0.0
    consumables = float(run_h @ p.consumables_kg_h) if p.consumables_kg_h is not None else 0.0
    return {"spares_kg": spares, "consumables_kg": consumables, "logistics_kg": spares + consumables}


def kpis(
    p: Problem, batches: np.ndarray, f: dict[str, np.ndarray] | None = None, repairs: np.ndarray | None = None
) -> dict[str, float]:
    """The run's key figures; rates are fractions (0..1). `repairs` (K,): a scenario's repairs per module, for the
    spares it used (the expected number when not given)."""
    f = f or flows(p, batches)
    T = p.days
    waste = p.mask("waste")
    totals = batches.sum(axis=0)
    target = p.index(p.target)
    arrived = p.arrivals_by_day().sum(axis=0)
    generated = float(arrived[waste].sum())
    consumed_waste = float(f["consumed"][:, waste].sum() - f["produced"][:, waste].sum())
    share = waste_shares(p, totals)
    loss = p.index("loss")
    waste_loss = float((p.outputs[:, loss] * totals * share).sum())
    gross_waste_in = float((p.inputs[:, waste].sum(axis=1) * totals).sum())
    target_made = float(f["produced"][:, target].sum() - f["consumed"][:, target].sum())
    target_gross = float(f["produced"][:, target].sum())
    target_from_waste = float((p.outputs[:, target] * totals * share).sum())
    energy = float((batches @ p.energy_kwh).sum())
    resources = p.mask("resource")
    net_products = f["produced"][:, resources].sum(axis=0) - f["consumed"][:, resources].sum(axis=0)
    product_mass = float(net_products[net_products > 0].sum())
    density = p.densities()
    end = f["stock"][-1]
    water = p.item_index.get("water")
    trash = waste & np.array([item.category not in NOT_TRASH for item in p.items])
    trash_generated = float(arrived[trash].sum())
    trash_processed = float(f["consumed"][:, trash].sum() - f["produced"][:, trash].sum())
    _, item_share = _shares(p, totals)
    from_waste = end * item_share  # kg of each item at the end that came from waste
    compacted = np.array([item.key in COMPACTED for item in p.items])
    converted = resources & ~compacted
    # what recycling made, bricks' regolith left out: every product's waste-derived kilograms (tiles count: they
    # shield and build; only their regolith-free mass is waste's doing)
    useful_from_waste = float((np.maximum(net_products, 0) * item_share[resources]).sum())
    # storage volume: the waste as it arrived, against what is kept of it at the end — waste left, compacted tiles
    # and blocks, residue (the heat melt compactor's main benefit: habitat.md §1, "less than one-eighth")
    kept = p.stored()
    arrived_m3 = float((arrived[waste] / density[waste]).sum())
    kept_m3 = float((np.maximum(end[kept], 0.0) / density[kept]).sum())
    products = converted & ~p.mask("regolith")
    cost = logistics(p, batches, repairs)
    fates = {
        "converted": float(from_waste[converted].sum()),
        "compacted": float(from_waste[compacted].sum()),
        "vented": waste_loss,
        "stored": float(end[waste].sum() + from_waste[p.mask("residue")].sum()),  # residues are kept as waste
    }
    return {
        "target_kg": target_made,
        "target_from_waste_kg": min(target_from_waste, target_gross),
        "waste_derived_share": (target_from_waste / target_gross) if target_gross > 1e-12 else 0.0,
        "waste_generated_kg": generated,
        "waste_processed_kg": consumed_waste,
        "recycling_rate": consumed_waste / generated if generated > 0 else 0.0,
        "useful_recovery_rate": (gross_waste_in - waste_loss) / gross_waste_in if gross_waste_in > 1e-12 else 0.0,
        "water_recovered_kg": float(f["produced"][:, water].sum()) if water is not None else 0.0,
        "energy_kwh": energy,
        "crew_h": float((batches @ p.crew_h).sum()),
        "kwh_per_kg": energy / product_mass if product_mass > 1e-12 else 0.0,
        "product_kg": product_mass,
        "waste_stored_kg": float(end[waste].sum()),
        "waste_stored_m3": float((end[waste] / density[waste]).sum()),
        "waste_arrived_m3": arrived_m3,
        "waste_kept_m3": kept_m3,
        "volume_reduction": 1.0 - kept_m3 / arrived_m3 if arrived_m3 > 1e-12 else 0.0,
        "products_stored_kg": float(np.maximum(end[products], 0.0).sum()),
        "products_stored_m3": float((np.maximum(end[products], 0.0) / density[products]).sum()),
        "recycling_target_met": bool(consumed_waste >= p.recycle_target_kg_per_day * T - 1e-9),
        "trash_generated_kg": trash_generated,
        "trash_processed_kg": trash_processed,
        "trash_recycling_rate": trash_processed / trash_generated if trash_generated > 0 else 0.0,
        **{f"waste_{fate}_share": (kg / generated if generated > 0 else 0.0) for fate, kg in fates.items()},
        "kwh_per_kg_waste": energy / consumed_waste if consumed_waste > 1e-12 else 0.0,
        "useful_from_waste_kg": useful_from_waste,
        "kwh_per_kg_useful_from_waste": energy / useful_from_waste if useful_from_waste > 1e-12 else 0.0,
        **cost,
        # what recycling gives beyond the spares and consumables brought up to run it
        "net_useful_kg": useful_from_waste - cost["logistics_kg"],
        "mass_balance_residual_kg": replay(p, batches),
    }


def replay(p: Problem, batches: np.ndarray) -> float:
    """The plan checked apart from the planner (none of its inventory variables): each day's batches take their
    inputs from the store and put their outputs back beside the day's generation. Returns the largest shortfall at
    a day's end (a plan using what was never there), negative batch mass or daily closure gap, in kg — 0 for a
    sound plan, whatever the optimiser believed."""
    negative = float((np.maximum(-batches, 0.0) @ p.inputs.sum(axis=1)).max(initial=0.0))
    moved = batches @ p.outputs - batches @ p.inputs  # (T, I)
    stock = np.cumsum(p.arrivals_by_day() + moved, axis=0)
    shortfall = float(max(0.0, -stock.min(initial=0.0)))
    closure = float(np.abs(moved.sum(axis=1)).max(initial=0.0))  # recipes create and destroy nothing
    return max(negative, shortfall, closure)


def limits_held(p: Problem, f: dict[str, np.ndarray]) -> dict[str, bool]:
    """Whether each stock limit held every day: the wet-waste cap (every capped item), the storage volume, and each
    named sink with a capacity (by its key)."""
    stock = f["stock"]
    capped = np.isfinite(p.wet_cap_kg)
    cap_ok = bool((stock[:, capped] <= p.wet_cap_kg[capped] + 1e-9).all())
    storage_ok = True
    if p.storage_m3 is not None:
        kept = p.stored()
        storage_ok = bool(((stock[:, kept] / p.densities()[kept]).sum(axis=1) <= p.storage_m3 + 1e-9).all())
    held = {"wet_waste_cap": cap_ok, "storage_volume": storage_ok}
    for n, sink in enumerate(p.sinks):
        if sink.limited:
            held[sink.key] = bool((f["sink_level"][:, n] <= sink.capacity_kg + SINK_SLACK_KG).all())
    return held


def warnings(p: Problem, f: dict[str, np.ndarray]) -> list[str]:
    """Limits a fixed policy broke (the optimiser never does): wet-waste caps and storage volume."""
    out = []
    stock = f["stock"]
    for i, item in enumerate(p.items):
        cap = p.wet_cap_kg[i]
        if np.isfinite(cap) and (stock[:, i] > cap + 1e-9).any():
            day = int(np.argmax(stock[:, i] > cap + 1e-9)) + 1
            out.append(f"{item.name} exceeds its wet-waste cap of {cap:.2f} kg from day {day}.")
    if p.storage_m3 is not None:
        kept = p.stored()
        volume = (stock[:, kept] / p.densities()[kept]).sum(axis=1)
        if (volume > p.storage_m3 + 1e-9).any():
            day = int(np.argmax(volume > p.storage_m3 + 1e-9)) + 1
            out.append(f"Stored waste, tiles and residue exceed the {p.storage_m3:g} m³ storage volume from day {day}.")
    for n, sink in enumerate(p.sinks):
        over = f["sink_level"][:, n] > (sink.capacity_kg if sink.limited else np.inf) + SINK_SLACK_KG
        if over.any():
            out.append(f"{sink.name} holds more than its {sink.capacity_kg:g} kg from day {int(np.argmax(over)) + 1}.")
    return out


def sink_report(p: Problem, f: dict[str, np.ndarray]) -> list[dict]:
    """Each named sink: its limits, level at each day's end, and what it received, passed on and held at most."""
    received = np.maximum(f["produced"] - f["consumed"], 0.0).sum(axis=0)
    return [
        {
            "key": sink.key,
            "name": sink.name,
            "capacity_kg": sink.capacity_kg,
            "drain_kg_per_day": sink.drain_kg_per_day,
            "level": _series(f["sink_level"][:, n]),
            "received_kg": round(float(received @ sink.takes), ROUND),
            "passed_on_kg": round(float(f["sink_passed"][:, n].sum()), ROUND),
            "peak_kg": round(float(f["sink_level"][:, n].max(initial=0.0)), ROUND),
        }
        for n, sink in enumerate(p.sinks)
    ]


def build_report(p: Problem, batches: np.ndarray, hours: np.ndarray) -> dict:
    """Everything a deterministic run stores: per-day series, totals per recipe, KPIs, warnings."""
    f = flows(p, batches)
    used = np.zeros((len(p.module_keys), p.days))
    np.add.at(used, p.recipe_module, (batches * p.duration_h).T)
    keep = [i for i, item in enumerate(p.items) if item.kind != "loss"]
    resources = [i for i, item in enumerate(p.items) if item.kind == "resource"]
    totals = batches.sum(axis=0)
    # a blend plans each of its mixes as a row of its own: the results speak of the catalog's recipes, with the mix
    # each one took
    parents = list(dict.fromkeys(p.recipe_parents or p.recipe_keys))
    members = [[r for r, parent in enumerate(p.recipe_parents or p.recipe_keys) if parent == key] for key in parents]
    by_recipe = np.stack([batches[:, rows].sum(axis=1) for rows in members], axis=1)
    used_in = np.stack([(p.inputs[rows] * totals[rows, None]).sum(axis=0) for rows in members])
    return {
        "kpis": kpis(p, batches, f),
        "warnings": warnings(p, f),
        "sinks": sink_report(p, f),
        "days": p.days,
        "items": [{"key": p.items[i].key, "name": p.items[i].name, "kind": p.items[i].kind} for i in keep],
        "inventory": {p.items[i].key: _series(f["stock"][:, i]) for i in keep},
        "production": {p.items[i].key: _series(f["produced"][:, i]) for i in resources},
        "batches": {key: _series(by_recipe[:, n]) for n, key in enumerate(parents)},
        "module_hours_used": {key: _series(used[k]) for k, key in enumerate(p.module_keys)},
        "module_hours_available": {key: _series(hours[k]) for k, key in enumerate(p.module_keys)},
        "energy_kwh": _series(batches @ p.energy_kwh),
        "crew_h": _series(batches @ p.crew_h),
        "recipes": [
            {
                "key": key,
                "name": p.recipe_names[rows[0]],
                "batches": round(float(totals[rows].sum()), ROUND),
                "inputs": {
                    p.items[i].key: round(float(used_in[n, i]), ROUND) for i in np.flatnonzero(used_in[n] > 1e-12)
                },
                "outputs": {
                    p.items[i].key: round(float((p.outputs[rows, i] * totals[rows]).sum()), ROUND)
                    for i in np.flatnonzero(p.outputs[rows].sum(axis=0))
                },
            }
            for n, (key, rows) in enumerate(zip(parents, members, strict=True))
        ],
        "totals": {p.items[i].key: round(float(f["produced"][:, i].sum()), ROUND) for i in resources},
    }
