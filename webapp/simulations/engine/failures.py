"""Module failures and repairs (habitat.md §3.5): an alternating renewal process, reduced to hours per day.

Time to failure is counted in operating hours, not calendar hours: a module wears while it runs. What it runs is
the failure-free plan's use of it (hours per day), placed at the start of each day; a module that plan never uses
never fails. A repair takes calendar time from the moment of failure. Repairs cost crew time only on days the plan
needed the module — an idle spare waiting for a part takes nobody's hands.

Not every failure stops a module. A share of them (`degraded_share`, a run setting) are malfunctions in BioSim's
sense: the module keeps running at a reduced rate — × 0.9, 0.75 or 0.5 for a low, medium or severe malfunction,
each equally likely — until the repair is done. Its lost hours are the reduced share of the repair's duration; the
repair still takes the crew time of a whole repair.
"""

from __future__ import annotations

import math

import numpy as np

from webapp.simulations.engine.model import Problem, upstream_first

# share of a repair's duration that needs a crew member's hands [E: no source found; habitat.md §3.5 asks for it to
# be shown as an estimate]
REPAIR_CREW_FRACTION = 0.5
# production factor of a malfunctioning module, by intensity: low, medium, severe [BioSim-repo, habitat.md §3.5]
MALFUNCTION_FACTORS = (0.9, 0.75, 0.5)


def planned_use(p: Problem, batches: np.ndarray) -> np.ndarray:
    """Hours each module runs on each day (K, T) under a plan's batches."""
    used = np.zeros_like(p.hours)
    np.add.at(used, p.recipe_module, (batches * p.duration_h).T)
    return used


def sample_downtime(
    p: Problem,
    rng: np.random.Generator,
    use: np.ndarray | None = None,
    shape: float = 1.0,
    repairs: list | None = None,
    degraded_share: float = 0.0,
    repairing: np.ndarray | None = None,
) -> np.ndarray:
    """Hours each module is down on each day (K, T): time to failure in operating hours (`use`, the plan's hours per
    day; all planned hours when not given) — exponential, or with `shape` ≠ 1 Weibull with the same mean (BioSim's
    Weibull decider: above 1 wear-out, below 1 early failures) — and exponential repair in calendar hours.
    With `degraded_share` > 0 that share of failures are malfunctions: the module runs on at one of
    MALFUNCTION_FACTORS until repaired, so only the rest of those hours are down.
    `repairs`, when given, receives each failure as (module, failed at, back at, factor it ran at meanwhile: 0 when
    stopped) in calendar hours; `repairing` (K, T), when given, receives the hours each module was under repair."""
    use = p.hours if use is None else use
    weibull_mean = math.gamma(1.0 + 1.0 / shape)
    down = np.zeros((len(p.module_keys), p.days))
    for k in range(len(p.module_keys)):
        mtbf, mttr = p.mtbf_h[k], p.mttr_h[k]
        if not np.isfinite(mtbf) or mttr <= 0 or not use[k].any():
            continue
        # operating hours run from the start of each day: op(t) is how many the module has run by calendar hour t
        run = np.minimum(use[k], 24.0)
        before = np.concatenate([[0.0], np.cumsum(run)])  # operating hours before each day starts
        clock = 0.0  # calendar hour from which the module next runs (after a repair)
        while True:
            # shape 1 keeps the exponential draw itself, so earlier runs' seeds give the same scenarios
            wear = rng.exponential(mtbf) if shape == 1.0 else mtbf * rng.weibull(shape) / weibull_mean
            failed_at = _calendar_after(run, before, clock, wear)
            if failed_at is None:
                break
            repair = rng.exponential(mttr)
            factor = 0.0
            # drawn only when asked for: runs without malfunctions keep their earlier scenarios seed for seed
            if degraded_share > 0.0 and rng.random() < degraded_share:
                factor = MALFUNCTION_FACTORS[int(rng.integers(len(MALFUNCTION_FACTORS)))]
            back = min(failed_at + repair, p.days * 24.0)
            _add_interval(down[k], failed_at, back, 1.0 - factor)
            if repairing is not None:
                _add_interval(repairing[k], failed_at, back)
            if repairs is not None:
                repairs.append((k, failed_at, failed_at + repair, factor))
            clock = failed_at + repair
            if clock >= p.days * 24.0:
                break
    return down


def _operating_by(run: np.ndarray, before: np.ndarray, t: float) -> float:
    """Operating hours by calendar hour `t` when each day's running time starts at midnight."""
    day = min(int(t // 24), run.size)
    if day >= run.size:
        return float(before[-1])
    return float(before[day] + min(t - day * 24.0, run[day]))


def _calendar_after(run: np.ndarray, before: np.ndarray, start: float, wear: float) -> float | None:
    """The calendar hour at which `wear` more operating hours have run from `start`; None past the horizon."""
    goal = _operating_by(run, before, start) + wear
    if goal >= before[-1]:
        return None
    day = int(np.searchsorted(before, goal, side="right")) - 1  # the day during whose running the goal is reached
    return day * 24.0 + (goal - before[day])


def _add_interval(row: np.ndarray, start: float, end: float, weight: float = 1.0) -> None:
    first, last = int(start // 24), int(min(end, row.size * 24 - 1e-9) // 24)
    for day in range(first, last + 1):
        row[day] += weight * (min(end, (day + 1) * 24.0) - max(start, day * 24.0))


def available_hours(p: Problem, down: np.ndarray) -> np.ndarray:
    """Planned hours scaled by the share of each day the module was up."""
    return p.hours * (24.0 - down) / 24.0


def crew_after_repairs(
    p: Problem, down: np.ndarray, use: np.ndarray | None = None, fraction: float = REPAIR_CREW_FRACTION
) -> np.ndarray:
    """Crew hours per day left for recipes once repairs took their share: only repairs of modules the plan needed
    that day (`use` > 0; every planned module when not given), each taking `fraction` of its hours in crew time.
    `down` is the hours under repair (sample_downtime's `repairing` when some failures were malfunctions)."""
    needed = (p.hours if use is None else use) > 1e-9
    return np.maximum(p.crew_h_per_day - fraction * (down * needed).sum(axis=0), 0.0)


def execute_without_foresight(p: Problem, plan: np.ndarray, hours: np.ndarray, crew: np.ndarray) -> np.ndarray:
    """The failure-free plan carried out as failures come, with no re-planning: each day a module's recipes shrink
    in proportion to the hours it lost, every recipe to the crew time repairs left, and a recipe to what is in
    store (an upstream cut starves what follows). Never more than planned: the bound a crew without foresight
    gets."""
    batches = plan.copy()
    used = planned_use(p, plan)
    module_share = np.divide(hours, used, out=np.ones_like(used), where=used > 1e-12).clip(max=1.0)
    batches *= module_share[p.recipe_module].T
    crew_used = batches @ p.crew_h
    batches *= np.divide(crew, crew_used, out=np.ones_like(crew_used), where=crew_used > crew + 1e-12)[:, None]
    order = upstream_first(p)
    stock = np.zeros(len(p.items))
    arrivals = p.arrivals_by_day()
    for t in range(p.days):
        stock += arrivals[t]
        for r in order:
            n = batches[t, r]
            if n <= 0:
                continue
            needs = np.flatnonzero(p.inputs[r])
            n = min(n, float((stock[needs] / p.inputs[r, needs]).min())) if needs.size else n
            n = max(n, 0.0)
            batches[t, r] = n
            stock += n * p.net[r]
    return batches
