"""Trade studies and Pareto sweeps: many deterministic plans of one mission, each answering a what-if.

A trade study re-plans the mission for every combination of one or two swept parameters (crew size, a budget, a
module's units) and records each plan's KPIs; a Pareto sweep traces what one more kilogram of the target costs in
waste left unprocessed or in energy (the ε-constraint method: maximise the target with the other objective held
at each of evenly spaced levels, then the other with the target kept)."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from webapp.simulations.engine import pool
from webapp.simulations.engine.errors import EngineError
from webapp.simulations.engine.lp import PlanningLP
from webapp.simulations.engine.model import Problem, build_problem
from webapp.simulations.engine.policy import run_policy
from webapp.simulations.engine.report import flows, kpis, warnings

MODULE_PREFIX = "module:"
MAX_VALUES = 12  # per swept parameter
MAX_POINTS = 60  # plans in one study (two parameters: the product of their counts)
MAX_UNITS = 4
PARETO_POINTS = (3, 25)
DEFAULT_PARETO_POINTS = 11
AGAINST = ("waste_processed", "energy")


@dataclass(frozen=True)
class Parameter:
    """A mission setting a trade study may sweep, with the range a plan accepts."""

    label: str
    unit: str
    low: float
    high: float
    whole: bool = False


PARAMETERS = {
    "crew_size": Parameter("Crew", "people", 1, 100, whole=True),
    "energy_budget_kwh_per_day": Parameter("Energy budget", "kWh/day", 0, 100_000),
    "crew_time_h_per_day": Parameter("Crew time for processing", "h/day", 0, 1_000),
    "regolith_supply_kg_per_day": Parameter("Regolith supply", "kg/day", 0, 100_000),
    "storage_volume_m3": Parameter("Storage volume", "m³", 0.001, 1_000_000),
    "wet_waste_cap_days": Parameter("Wet-waste cap", "days", 0.1, 365),
    "water_recovery_capacity_kg": Parameter("Water recovery capacity", "kg", 0.001, 1_000_000),
    "air_system_capacity_kg": Parameter("Air system capacity", "kg", 0.001, 1_000_000),
    "propellant_capacity_kg": Parameter("Propellant storage capacity", "kg", 0.001, 1_000_000),
}
# a study of fewer plan-days than this (combinations × horizon) is planned inline: the pool would cost more to start
PARALLEL_POINT_DAYS = 3_000
# the KPIs every point records (report.kpis keys); rates are fractions
STUDY_KPIS = (
    "target_kg",
    "waste_processed_kg",
    "recycling_rate",
    "trash_recycling_rate",
    "energy_kwh",
    "crew_h",
    "waste_stored_kg",
    "kwh_per_kg_waste",
    "logistics_kg",
)

Progress = Callable[[float], None]


def describe(parameter: str, snapshot: dict) -> tuple[str, str]:
    """(label, unit) of a parameter name, for results and charts."""
    if parameter.startswith(MODULE_PREFIX):
        key = parameter[len(MODULE_PREFIX) :]
        names = {m["key"]: m["name"] for m in snapshot["modules"]}
        return f"Units of {names.get(key, key)}", "units"
    spec = PARAMETERS[parameter]
    return spec.label, spec.unit


def validate_sweep(sweep, snapshot: dict) -> list[dict]:
    """The study's axes, checked: one or two parameters, each with 2–12 distinct values in its range and at most
    60 plans in all; raises EngineError naming what to fix."""
    if not isinstance(sweep, list) or not 1 <= len(sweep) <= 2:
        raise EngineError("A trade study sweeps one or two parameters.", "sweep")
    modules = {m["key"] for m in snapshot["modules"]}
    axes, seen = [], set()
    for axis in sweep:
        if not isinstance(axis, dict) or set(axis) - {"parameter", "values"}:
            raise EngineError("Each swept parameter is {parameter, values}.", "sweep")
        name, values = axis.get("parameter"), axis.get("values")
        if not isinstance(name, str) or name in seen:
            raise EngineError("Sweep two different parameters.", "sweep")
        if name.startswith(MODULE_PREFIX):
            if name[len(MODULE_PREFIX) :] not in modules:
                raise EngineError(f"{name!r}: no such module in this mission's catalog.", "sweep")
            low, high, whole = 0, MAX_UNITS, True
        elif name in PARAMETERS:
            spec = PARAMETERS[name]
            low, high, whole = spec.low, spec.high, spec.whole
        else:
            raise EngineError(
                f"{name!r} cannot be swept; choose {', '.join(PARAMETERS)} or module:<key> (units 0–{MAX_UNITS}).",
                "sweep",
            )
        label = describe(name, snapshot)[0]
        if not isinstance(values, list) or not 2 <= len(values) <= MAX_VALUES:
            raise EngineError(f"Give {label} from 2 to {MAX_VALUES} values.", "sweep")
        clean = []
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
                raise EngineError(f"The values of {label} are numbers.", "sweep")
            if whole and value != int(value):
                raise EngineError(f"The values of {label} are whole numbers.", "sweep")
            if not low <= value <= high:
                raise EngineError(f"The values of {label} are from {low:g} to {high:g}.", "sweep")
            clean.append(int(value) if whole else float(value))
        if len(set(clean)) != len(clean):
            raise EngineError(f"The values of {label} repeat.", "sweep")
        seen.add(name)
        label, unit = describe(name, snapshot)
        axes.append({"parameter": name, "label": label, "unit": unit, "values": sorted(clean)})
    if int(np.prod([len(a["values"]) for a in axes])) > MAX_POINTS:
        raise EngineError(f"A trade study plans at most {MAX_POINTS} combinations.", "sweep")
    return axes


def validate_study(config: dict, snapshot: dict) -> list[dict]:
    """The study's axes (validate_sweep), and refused when it sweeps a module's units under a power profile."""
    axes = validate_sweep(config.get("sweep"), snapshot)
    if any(a["parameter"].startswith(MODULE_PREFIX) for a in axes) and (
        config.get("power_profile") or config.get("peak_kw")
    ):
        raise EngineError(
            "Units of a module are swept under the daily energy budget only: the power profile schedules one unit "
            "per module. Leave the power profile and peak limit out of this study.",
            "sweep",
        )
    return axes


def _apply(snapshot: dict, axes: list[dict], combination: tuple) -> dict:
    """A copy of the snapshot with one combination of the swept values in place."""
    changed = copy.copy(snapshot)
    changed["mission"] = dict(snapshot["mission"])
    changed["modules"] = list(snapshot["modules"])
    for axis, value in zip(axes, combination, strict=True):
        name = axis["parameter"]
        if name.startswith(MODULE_PREFIX):
            key = name[len(MODULE_PREFIX) :]
            changed["modules"] = [dict(m, units=value) if m["key"] == key else m for m in changed["modules"]]
        else:
            changed["mission"][name] = value
    return changed


def _kpis(problem: Problem, batches: np.ndarray) -> tuple[dict, list[str]]:
    f = flows(problem, batches)
    figures = kpis(problem, batches, f)
    return {key: round(float(figures[key]), 4) for key in STUDY_KPIS}, warnings(problem, f)


def plan_points(snapshot: dict, config: dict, plan: str, tau: float, axes: list[dict], combinations: list) -> list:
    """Plan some combinations of the study (inline or in a pool process), each point with its KPIs or the reason
    the engine refused it."""
    points = []
    for combination in combinations:
        point: dict = {"values": list(combination)}
        try:
            problem = build_problem(_apply(snapshot, axes, combination), config, target_required=False)
            if plan == "mass_balance":
                batches = run_policy(problem)
            else:  # a combination whose stock limits cannot hold is planned to break them least, and says so
                batches = PlanningLP(problem).solve(plan, tau=tau, elastic=True)
            point["kpis"], point["warnings"] = _kpis(problem, batches)
        except EngineError as exc:
            point["error"] = exc.message
        points.append(point)
    return points


def run_trade_study(snapshot: dict, config: dict, plan: str, tau: float, progress: Progress) -> dict:
    """Every combination of the swept values planned as the run's plan, with its KPIs (a combination the engine
    refuses carries the reason instead); a large study is planned on the engine's process pool, a point per call
    in order, and records the CPU-seconds it took there (`pool_cpu_seconds`)."""
    axes = validate_study(config, snapshot)
    combinations = list(itertools.product(*(a["values"] for a in axes)))
    args = (snapshot, config, plan, tau, axes)
    pool_cpu = 0.0
    if len(combinations) * config.get("time_horizon_days", 30) < PARALLEL_POINT_DAYS:
        points = []
        for n, combination in enumerate(combinations):
            points += plan_points(*args, [combination])
            progress((n + 1) / len(combinations))
    else:
        calls = [(plan_points, (*args, [combination])) for combination in combinations]
        done, pool_cpu = pool.run_pooled(calls, lambda landed: progress(len(landed) / len(combinations)))
        points = [point for n in range(len(calls)) for point in done[n]]
    return {"axes": axes, "plan": plan, "kpis": list(STUDY_KPIS), "points": points,
            "pool_cpu_seconds": round(pool_cpu, 3)}  # fmt: skip


def run_pareto(problem: Problem, config: dict, progress: Progress) -> dict:
    """The trade-off between the target and waste processed (or energy spent): evenly spaced levels of the second
    between the plan that makes the most target and the plan that best serves the second, each planned with the
    target maximised at that level."""
    against = config.get("against") or "waste_processed"
    if against not in AGAINST:
        raise EngineError(f"A Pareto sweep sets the target against {' or '.join(AGAINST)}.", "against")
    count = config.get("points", DEFAULT_PARETO_POINTS)
    low, high = PARETO_POINTS
    if not isinstance(count, int) or isinstance(count, bool) or not low <= count <= high:
        raise EngineError(f"A Pareto sweep plans from {low} to {high} points.", "points")
    lp = PlanningLP(problem)
    target = lp.target_x
    if against == "waste_processed":
        other, sign, key = lp.waste_x, 1.0, "waste_processed_kg"
    else:  # energy is minimised: its negative is held at or above minus each level
        other, sign, key = -lp.energy_x, -1.0, "energy_kwh"
    # the two ends: the most target (then the best of the other at it), and the best of the other (then the most
    # target at it)
    most_target = lp.bounded_solve("most_target", target, other, -np.inf)
    most_target_level = float(other @ lp.last_solution[: lp.lay.n_x])
    lp.bounded_solve("most_other", other, target, 0.0)
    best_level = float(other @ lp.last_solution[: lp.lay.n_x])
    no_tradeoff = best_level - most_target_level <= 1e-6 * max(1.0, abs(best_level))
    levels = [most_target_level] if no_tradeoff else list(np.linspace(most_target_level, best_level, count))
    points = []
    for n, level in enumerate(levels):
        if n == 0:
            batches = most_target
        else:  # a hair below the level: the end itself was found with the floor free
            batches = lp.bounded_solve("sweep", target, other, level - 1e-9 * max(1.0, abs(level)))
        if batches is not None:
            figures, _ = _kpis(problem, batches)
            points.append({"level": round(sign * level, 4), "kpis": figures})
        progress((n + 1) / len(levels))
    points.sort(key=lambda point: point["kpis"][key])
    return {"against": against, "x_key": key, "kpis": list(STUDY_KPIS), "points": points, "no_tradeoff": no_tradeoff}
