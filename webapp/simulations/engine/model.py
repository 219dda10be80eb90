"""The engine's view of a mission: items, recipes and budgets as numpy arrays, validated from a snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from webapp.simulations.engine.errors import EngineError
from webapp.simulations.engine.power import PowerProfile, build_power
from webapp.simulations.engine.sinks import Sink

LOSS = "loss"
# waste that is not trash: the crew's metabolic output and urine brine (a trash-only rate leaves them out)
NOT_TRASH = frozenset({"metabolic", "brine"})
# what the heat melt compactor makes: trash pressed and dried for storage, not turned into anything new
COMPACTED = frozenset({"hmc_tile", "foam_block"})
# what a recipe leaves that is kept as waste (the brine processor's residue): stored, neither product nor loss
RESIDUES = frozenset({"brine_residue"})
REGOLITH = "regolith"
MAX_HORIZON_DAYS = 730
# moisture at or above this share makes a waste "wet": it counts against the biosafety stock cap
WET_MOISTURE = 0.3
# wet but not a biosafety risk: urine is pretreated (acid and oxidiser) before the UPA concentrates it, so its
# brine is stored in its own tanks as ISS stores it for the brine processor — the cap guards against organics
# rotting (food, wipes, feces), not against brine waiting for its processor
STABILISED = frozenset({"brine"})
# a degraded module runs at BioSim's "medium malfunction" factor [E]
DEGRADED_HOURS_FACTOR = 0.75
# waste that comes with the cargo rather than from the crew's day: packing foam and bubble wrap (habitat.md §4.1,
# item 7) are unpacked when a resupply arrives
CARGO_CATEGORIES = frozenset({"foam"})
MAX_RESUPPLY_DAYS = 365
# an EVA's absorbent garments (MAGs) and wipes are hygiene waste: the STS trash data count MAGs in the hygiene share
# (habitat.md §1); how much one EVA leaves is a figure the run supplies — no source gives it [E]
EVA_CATEGORY = "hygiene"
MAX_EVA_KG = 20.0
AVAILABLE_STATUSES = {"operational": 1.0, "degraded": DEGRADED_HOURS_FACTOR}
CLOSURE_TOLERANCE_KG = 1e-9


@dataclass(frozen=True)
class Item:
    """A thing with mass: a waste material, regolith, an intermediate or product, or the loss sink."""

    key: str
    name: str
    kind: str  # waste | regolith | resource | residue | loss
    generation_per_day: float = 0.0
    density_kg_m3: float | None = None
    wet: bool = False
    category: str | None = None  # a waste material's catalog category (metabolic and brine are not trash)


@dataclass
class Problem:
    """One mission's planning problem: T days, I items, R recipes, K modules."""

    days: int
    start: date
    crew: int
    items: list[Item]
    recipe_keys: list[str]
    recipe_names: list[str]
    recipe_module: np.ndarray  # (R,) module index
    inputs: np.ndarray  # (R, I) kg consumed per batch
    outputs: np.ndarray  # (R, I) kg made per batch
    duration_h: np.ndarray  # (R,)
    energy_kwh: np.ndarray  # (R,)
    crew_h: np.ndarray  # (R,)
    priority: np.ndarray  # (R,)
    module_keys: list[str]
    module_names: list[str]
    hours: np.ndarray  # (K, T) planned available hours per module and day
    mtbf_h: np.ndarray  # (K,) inf when unknown
    mttr_h: np.ndarray  # (K,)
    energy_per_day: float
    crew_h_per_day: float
    storage_m3: float | None
    wet_cap_kg: np.ndarray  # (I,) inf where no cap applies
    recycle_target_kg_per_day: float
    target: str
    notes: list[str] = field(default_factory=list)
    power_kw: np.ndarray | None = None  # (K,) draw while running
    power: PowerProfile | None = None  # None: the daily energy budget is the only power limit
    arrivals: np.ndarray | None = None  # (T, I) what arrives each day when it varies (resupply, a Monte Carlo scenario)
    resupply_every_days: int | None = None  # cargo waste arrives in pulses this far apart (None: every day)
    eva_days: int = 0  # EVA days in the horizon, each bringing its hygiene waste
    eva_schedule: tuple[int, int, float] | None = None  # (EVAs a week, hygiene item, kg each) when there are EVAs
    recipe_parents: list[str] | None = None  # (R,) the catalog recipe each row plans (a blend's mixes share one)
    spares_kg: np.ndarray | None = None  # (K,) spare parts one repair uses; None: none known
    consumables_kg_h: np.ndarray | None = None  # (K,) consumables per operating hour; None: none known
    sinks: list[Sink] = field(default_factory=list)  # named sinks the recipes' water, gases and propellant go to

    @property
    def net(self) -> np.ndarray:
        """(R, I) stock change per batch."""
        return self.outputs - self.inputs

    @property
    def generation(self) -> np.ndarray:
        """(I,) kg per day arriving without a recipe (crew waste, regolith supply)."""
        return np.array([item.generation_per_day for item in self.items])

    def arrivals_by_day(self) -> np.ndarray:
        """(T, I) kg arriving each day: the scenario's own when it varies, else the daily mean every day."""
        if self.arrivals is not None:
            return self.arrivals
        return np.broadcast_to(self.generation, (self.days, len(self.items)))

    def index(self, key: str) -> int:
        """Position of an item key."""
        return self.item_index[key]

    @property
    def item_index(self) -> dict[str, int]:
        """Item key → position."""
        return {item.key: i for i, item in enumerate(self.items)}

    def mask(self, kind: str) -> np.ndarray:
        """(I,) booleans for items of one kind."""
        return np.array([item.kind == kind for item in self.items])

    def stored(self) -> np.ndarray:
        """(I,) what the storage volume holds: waste, compacted tiles and blocks, and residue (products leave it)."""
        return self.mask("waste") | self.mask("residue") | np.array([item.key in COMPACTED for item in self.items])

    def densities(self) -> np.ndarray:
        """(I,) kg/m³ as stored; infinite (taking no room) where none is known, as in runs snapshotted before."""
        return np.array([item.density_kg_m3 or np.inf for item in self.items])


def _number(raw, what: str, *, minimum: float = 0.0, allow_none: bool = False) -> float | None:
    if raw is None:
        if allow_none:
            return None
        raise EngineError(f"{what} is missing.")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise EngineError(f"{what} is not a number ({raw!r}).") from None
    if not np.isfinite(value) or value < minimum:
        raise EngineError(f"{what} must be at least {minimum:g} (got {value:g}).")
    return value


def build_problem(snapshot: dict, config: dict, *, target_required: bool = True) -> Problem:
    """Validate a run's snapshot and config into arrays; every refusal names what to fix. A trade study point may
    leave the target's module out (`target_required` False): its plan then makes none."""
    mission = snapshot["mission"]
    days = config.get("time_horizon_days", 30)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_HORIZON_DAYS:
        raise EngineError(
            f"The horizon must be a whole number of days from 1 to {MAX_HORIZON_DAYS}.", "time_horizon_days"
        )
    crew = int(mission["crew_size"])
    if crew < 1:
        raise EngineError("The mission has no crew to generate waste.", "crew_size")
    start = date.fromisoformat(snapshot.get("start_date") or date.today().isoformat())
    notes: list[str] = []

    items: list[Item] = []
    material_keys = set()
    for m in snapshot["materials"]:
        moisture = _number(m.get("moisture_fraction", 0), f"Moisture of {m['name']}")
        items.append(
            Item(
                key=m["key"],
                name=m["name"],
                kind="waste",
                generation_per_day=crew * _number(m["generation_kg_per_cm_day"], f"Generation rate of {m['name']}"),
                density_kg_m3=_number(m["density_kg_m3"], f"Density of {m['name']}", minimum=1e-9),
                wet=(bool(m.get("hazardous")) or moisture >= WET_MOISTURE) and m.get("category") not in STABILISED,
                category=m.get("category"),
            )
        )
        material_keys.add(m["key"])
    referenced = {key for r in snapshot["recipes"] for key in (*r["inputs"], *r["outputs"])}
    resources = sorted(referenced - material_keys)
    clash = sorted(material_keys & set(snapshot.get("resource_names", [])))
    if clash:
        raise EngineError(
            f"Waste material key {clash[0]!r} is also the name of a resource; rename the material.", "catalog"
        )
    supply = _number(mission.get("regolith_supply_kg_per_day", 0), "Regolith supply")
    densities = snapshot.get("resource_densities") or {}  # runs snapshotted before densities had none
    for key in resources:
        kind = {LOSS: "loss", REGOLITH: "regolith"}.get(key, "residue" if key in RESIDUES else "resource")
        items.append(
            Item(
                key=key,
                name=key.replace("_", " ").capitalize() if key != "hmc_tile" else "HMC tile",
                kind=kind,
                generation_per_day=supply if kind == "regolith" else 0.0,
                density_kg_m3=densities.get(key),
            )
        )
    if not any(i.kind == "loss" for i in items):
        items.append(Item(key=LOSS, name="Loss", kind="loss"))
    index = {item.key: i for i, item in enumerate(items)}

    modules = snapshot["modules"]
    module_index = {m["key"]: k for k, m in enumerate(modules)}
    hours = np.zeros((len(modules), days))
    mtbf = np.full(len(modules), np.inf)
    mttr = np.zeros(len(modules))
    power_kw = np.array([_number(m.get("power_kw") or 0, f"Power of {m['name']}") for m in modules])
    # logistics mass: blank (and snapshots taken before modules had these numbers) counts as none
    spares = np.array([_number(m.get("spares_kg_per_repair") or 0, f"Spares of {m['name']}") for m in modules])
    consumables = np.array(
        [_number(m.get("consumables_kg_per_h") or 0, f"Consumables of {m['name']}") for m in modules]
    )
    for k, m in enumerate(modules):
        factor = AVAILABLE_STATUSES.get(m["status"], 0.0)
        per_day = _number(m["hours_per_day"], f"Hours per day of {m['name']}")
        units = m.get("units", 1)  # a trade study's count of identical units, run side by side
        hours[k, :] = min(per_day, 24.0) * factor * units
        if units == 0:
            notes.append(f"{m['name']} is left out of this plan.")
        elif units > 1:
            notes.append(f"{m['name']}: {units} units side by side ({units} × its hours a day).")
        if factor == 0.0:
            notes.append(f"{m['name']} is {m['status']}: it runs no recipes in this plan.")
        elif factor < 1.0:
            notes.append(f"{m['name']} is degraded: planned at {factor:.0%} of its hours.")
        due = m.get("next_maintenance_due")
        if due and factor:
            offset = (date.fromisoformat(due) - start).days
            if 0 <= offset < days:
                hours[k, offset] = 0.0
                notes.append(f"{m['name']} is down for scheduled maintenance on day {offset + 1} ({due}).")
        if m.get("mtbf_h"):
            mtbf[k] = _number(m["mtbf_h"], f"MTBF of {m['name']}", minimum=1e-9)
            mttr[k] = _number(m.get("mttr_h") or 0, f"MTTR of {m['name']}")

    recipes = sorted(snapshot["recipes"], key=lambda r: (r.get("priority", 100), r["key"]))
    recipes = [variant for recipe in recipes for variant in blend_variants(recipe)]
    if not recipes:
        raise EngineError("The catalog has no recipes, so nothing can be processed.", "recipes")
    n_items = len(items)
    inputs = np.zeros((len(recipes), n_items))
    outputs = np.zeros((len(recipes), n_items))
    recipe_module = np.zeros(len(recipes), dtype=int)
    for r, recipe in enumerate(recipes):
        if recipe["module"] not in module_index:
            raise EngineError(f"Recipe {recipe['name']} runs on a module that is not in the catalog.", "recipes")
        recipe_module[r] = module_index[recipe["module"]]
        for key, kg in recipe["inputs"].items():
            inputs[r, index[key]] += _number(kg, f"Input {key} of {recipe['name']}", minimum=1e-12)
        for key, kg in recipe["outputs"].items():
            outputs[r, index[key]] += _number(kg, f"Output {key} of {recipe['name']}", minimum=1e-12)
        gap = inputs[r].sum() - outputs[r].sum()
        if abs(gap) > CLOSURE_TOLERANCE_KG * max(1.0, inputs[r].sum()):
            raise EngineError(
                f"Recipe {recipe['name']} does not close its mass: {inputs[r].sum():g} kg in, "
                f"{outputs[r].sum():g} kg out. Add the difference as loss.",
                "mass_closure",
            )

    target = config.get("target") or "brick"
    if target not in index or items[index[target]].kind in ("waste", "loss", "regolith"):
        raise EngineError(f"{target!r} is not a product any recipe makes.", "target")
    makers = [r for r in range(len(recipes)) if outputs[r, index[target]] > 0]
    if target_required and not any(hours[recipe_module[r]].any() for r in makers):
        raise EngineError(
            f"No available module can make {target}: "
            + ", ".join(
                f"{recipes[r]['name']} needs {modules[recipe_module[r]]['name']} "
                f"({modules[recipe_module[r]]['status']})"
                for r in makers
            )
            + ".",
            "module_hours",
        )

    cap_days = _number(mission.get("wet_waste_cap_days"), "Wet-waste cap", allow_none=True)
    wet_cap = np.full(n_items, np.inf)
    if cap_days:
        consumed = inputs.sum(axis=0) > 0
        for i, item in enumerate(items):
            if item.kind == "waste" and item.wet and item.generation_per_day > 0:
                if consumed[i]:
                    wet_cap[i] = cap_days * item.generation_per_day
                else:
                    notes.append(
                        f"No recipe processes {item.name}, so the wet-waste cap cannot apply to it; it is stored."
                    )
    storage = _number(mission.get("storage_volume_m3"), "Storage volume", minimum=1e-9, allow_none=True)
    power = build_power(config, days)
    if power is not None and power.peak_kw is not None:
        for k, m in enumerate(modules):
            if power_kw[k] > power.peak_kw and hours[k].any():
                notes.append(
                    f"{m['name']} draws {power_kw[k]:g} kW, above the {power.peak_kw:g} kW peak: it runs nothing."
                )

    resupply = config.get("resupply_every_days")
    if resupply is not None and (
        not isinstance(resupply, int) or isinstance(resupply, bool) or not 1 <= resupply <= MAX_RESUPPLY_DAYS
    ):
        raise EngineError(
            f"Resupply comes every 1 to {MAX_RESUPPLY_DAYS} days (a whole number), or leave it empty.",
            "resupply_every_days",
        )

    eva = _eva_settings(config)
    sinks = _sinks(snapshot, mission, items, notes)

    problem = Problem(
        days=days,
        start=start,
        crew=crew,
        items=items,
        recipe_keys=[r["key"] for r in recipes],
        recipe_parents=[r.get("parent", r["key"]) for r in recipes],
        recipe_names=[r["name"] for r in recipes],
        recipe_module=recipe_module,
        inputs=inputs,
        outputs=outputs,
        duration_h=np.array([_number(r["duration_h"], f"Duration of {r['name']}", minimum=1e-9) for r in recipes]),
        energy_kwh=np.array([_number(r["energy_kwh"], f"Energy of {r['name']}") for r in recipes]),
        crew_h=np.array([_number(r["crew_h"], f"Crew time of {r['name']}") for r in recipes]),
        priority=np.array([r.get("priority", 100) for r in recipes]),
        module_keys=[m["key"] for m in modules],
        module_names=[m["name"] for m in modules],
        hours=hours,
        mtbf_h=mtbf,
        mttr_h=mttr,
        energy_per_day=_number(mission["energy_budget_kwh_per_day"], "Energy budget"),
        crew_h_per_day=_number(mission["crew_time_h_per_day"], "Crew time"),
        storage_m3=storage,
        wet_cap_kg=wet_cap,
        recycle_target_kg_per_day=_number(mission.get("recycle_target_kg_per_day", 0), "Recycling target"),
        target=target,
        notes=notes,
        power_kw=power_kw,
        power=power,
        spares_kg=spares,
        consumables_kg_h=consumables,
        sinks=sinks,
    )
    return _with_eva(_with_resupply(problem, resupply), *eva)


def _sinks(snapshot: dict, mission: dict, items: list[Item], notes: list[str]) -> list[Sink]:
    """The named sinks that take something a recipe here makes (engine/sinks.py), with the mission's capacity and
    drain for each (`<key>_capacity_kg`, `<key>_drain_kg_per_day`); none in runs snapshotted before sinks."""
    out = []
    for raw in snapshot.get("sinks") or ():
        takes = np.array([1.0 if item.key in raw["resources"] else 0.0 for item in items])
        if not takes.any():
            continue
        name = raw["name"]
        capacity = _number(mission.get(f"{raw['key']}_capacity_kg"), f"Capacity of {name}", allow_none=True)
        drain = _number(mission.get(f"{raw['key']}_drain_kg_per_day") or 0, f"What {name} passes on")
        out.append(Sink(raw["key"], name, takes, capacity, drain))
        what = ", ".join(item.name.lower() for item, t in zip(items, takes, strict=True) if t)
        if capacity is not None:
            passes = f", passing on {drain:g} kg a day" if drain else ", passing nothing on (it only fills)"
            notes.append(f"{name} takes the {what}: it holds {capacity:g} kg{passes}.")
    return out


def blend_variants(recipe: dict) -> list[dict]:
    """A recipe whose inputs may be mixed (habitat.md §4.3: R1 takes any trash mix with at least 20 % plastic) as the
    corners of its mixes, each a fixed-ratio recipe with the same outputs, time, energy and crew time per batch. The
    mixes a blend allows — inputs ≥ 0 adding up to the batch's input mass, the `of` group at least `min_share` of
    it — are a polytope; its corners are the group's inputs alone and each group input at exactly `min_share` with
    one other input. Batches of the corners add up to any allowed mix, so the LP chooses the mix exactly."""
    blend = recipe.get("blend")
    if not blend:
        return [recipe]
    total = sum(float(kg) for kg in recipe["inputs"].values())
    share = float(blend.get("min_share") or 0.0)
    if not 0.0 <= share <= 1.0:
        raise EngineError(f"The blend of {recipe['name']} needs a share from 0 to 1.", "recipes")
    group = [key for key in recipe["inputs"] if key in set(blend.get("of") or ())]
    rest = [key for key in recipe["inputs"] if key not in group]
    if share == 0.0 or not rest:  # any mix of the inputs
        mixes = [{key: total} for key in recipe["inputs"]]
    elif not group:  # none of the inputs its share counts is left (the lines were edited): the listed mix stands
        return [recipe]
    else:
        mixes = [{key: total} for key in group]
        if share < 1.0:
            mixes += [{key: share * total, other: (1.0 - share) * total} for key in group for other in rest]
    return [
        recipe | {"key": f"{recipe['key']}~{n}", "inputs": mix, "parent": recipe["key"]} for n, mix in enumerate(mixes)
    ]


def _eva_settings(config: dict) -> tuple[int, float]:
    """(EVAs a week, kg of hygiene waste each) from a run's config; (0, 0) without EVAs."""
    per_week, kg = config.get("eva_per_week"), config.get("eva_waste_kg")
    if per_week is None and kg is None:
        return 0, 0.0
    if not isinstance(per_week, int) or isinstance(per_week, bool) or not 0 <= per_week <= 7:
        raise EngineError("EVAs a week is a whole number from 0 to 7.", "eva_per_week")
    if isinstance(kg, bool) or not isinstance(kg, int | float) or not 0 <= kg <= MAX_EVA_KG:
        raise EngineError(f"The waste one EVA leaves is 0 to {MAX_EVA_KG:g} kg.", "eva_waste_kg")
    return per_week, float(kg)


def eva_days_of_week(week: int, per_week: int, days: int) -> list[int]:
    """The scheduled EVA days of the week starting on day `week`: spread evenly, inside the horizon."""
    return [d for j in range(per_week) if (d := week + j * 7 // per_week) < days]


def _with_eva(p: Problem, per_week: int, kg: float) -> Problem:
    """EVA days spread evenly through each week, each bringing `kg` of hygiene waste on top of the daily mean."""
    if not per_week or not kg:
        return p
    hygiene = [i for i, item in enumerate(p.items) if item.kind == "waste" and item.category == EVA_CATEGORY]
    if not hygiene:
        raise EngineError("EVA waste is hygiene waste, and this catalog has no hygiene material.", "eva_waste_kg")
    days = [d for week in range(0, p.days, 7) for d in eva_days_of_week(week, per_week, p.days)]
    arrivals = np.array(p.arrivals_by_day())
    arrivals[days, hygiene[0]] += kg
    p.notes.append(
        f"EVA days: {per_week} a week ({len(days)} in {p.days} days), each leaving {kg:g} kg of "
        f"{p.items[hygiene[0]].name.lower()} (absorbent garments and wipes; the run's figure, an estimate)."
    )
    p.arrivals, p.eva_days, p.eva_schedule = arrivals, len(days), (per_week, hygiene[0], kg)
    return p


def _with_resupply(p: Problem, every: int | None) -> Problem:
    """Cargo waste (CARGO_CATEGORIES) arriving with each resupply instead of day by day: on day 1 and every `every`
    days after, what those days would have brought (the last pulse only the days left); the mean is unchanged."""
    cargo = np.array([item.kind == "waste" and item.category in CARGO_CATEGORIES for item in p.items])
    if not every or every == 1 or not cargo.any():
        return p
    arrivals = np.tile(p.generation, (p.days, 1))
    arrivals[:, cargo] = 0.0
    for day in range(0, p.days, every):
        arrivals[day, cargo] = p.generation[cargo] * min(every, p.days - day)
    names = ", ".join(item.name for item, c in zip(p.items, cargo, strict=True) if c)
    p.notes.append(f"{names}: {every} days' worth arrives with each resupply, every {every} days from day 1.")
    p.arrivals, p.resupply_every_days = arrivals, every
    return p


def upstream_first(p: Problem) -> list[int]:
    """Recipes ordered so that whatever makes an intermediate comes before what uses it (shred before extrude)."""
    raw = p.mask("waste") | p.mask("regolith")
    depth = np.zeros(len(p.recipe_keys), dtype=int)
    for _ in range(len(p.recipe_keys)):
        made_at = np.full(len(p.items), -1)
        for r in range(len(p.recipe_keys)):
            for i in np.flatnonzero(p.outputs[r]):
                made_at[i] = max(made_at[i], depth[r])
        new = np.array([1 + max((made_at[i] for i in np.flatnonzero(p.inputs[r]) if not raw[i]), default=-1)
                        for r in range(len(p.recipe_keys))])  # fmt: skip
        if np.array_equal(new, depth):
            break
        depth = new
    return sorted(range(len(p.recipe_keys)), key=lambda r: (depth[r], p.priority[r]))
