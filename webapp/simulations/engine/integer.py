"""Whole batches (habitat.md §3.4): a crew runs a recipe once or twice, never 0.37 times.

Short horizons are solved as a MILP (HiGHS, the same model with integer batch columns) within a time limit; the
answer reports HiGHS's optimality gap. Longer ones take the LP's plan rounded down, repaired day by day (a cut
upstream starves what follows) and filled greedily with whole batches while hours, energy, crew time and stock
allow (and the sinks have room); the answer reports the gap to the LP's bound. Either way `integer` says which was used.

Integer plans weigh the second objective by the LP's tie-breakers instead of a second solve (a second MILP would
double the time); the first objective is what the gap measures.
"""

from __future__ import annotations

import math
import time

import highspy
import numpy as np

from webapp.simulations.engine.errors import EngineError
from webapp.simulations.engine.lp import PlanningLP
from webapp.simulations.engine.model import Problem, upstream_first
from webapp.simulations.engine.sinks import Room

MILP_MAX_DAYS = 30  # beyond this the MILP rarely closes its gap in the time allowed on two cores
MILP_SECONDS = 10.0
MILP_GAP = 1e-3  # HiGHS stops once within 0.1 % of its bound


def whole_batches(problem: Problem, objective: str, tau: float, *, seconds: float = MILP_SECONDS) -> tuple:
    """(batches (T, R) in whole numbers, what was done: method, primary value, bound, gap, seconds; the LP whose
    last solution holds the plan's power decisions)."""
    started = time.process_time()
    short = problem.days <= MILP_MAX_DAYS
    lp = PlanningLP(problem, daily=short)  # the MILP needs a column per day; rounding works from the blocked LP
    relaxed = lp.solve(objective, tau=tau)
    primary, secondary = lp.objectives(objective)
    per_batch = primary[: len(problem.recipe_keys)]
    bound = float((relaxed * per_batch).sum())
    if short:
        found = _milp(lp, primary, secondary, seconds)
        if found is not None:
            batches, gap = found
            return batches, _report("milp", batches, per_batch, bound, gap, started), lp
    if problem.power is not None:
        raise EngineError(
            f"Whole batches under a power profile or peak limit are planned exactly (a MILP) up to {MILP_MAX_DAYS} "
            "days; shorten the horizon or allow fractional batches.",
            "whole_batches",
        )
    batches = _round_and_repair(problem, relaxed, per_batch, lp)
    value = float((batches * per_batch).sum())
    gap = (bound - value) / abs(bound) if abs(bound) > 1e-9 else 0.0
    return batches, _report("lp_rounded", batches, per_batch, bound, max(gap, 0.0), started), lp


def _report(method: str, batches, per_batch, bound: float, gap: float, started: float) -> dict:
    return {"method": method, "value": round(float((batches * per_batch).sum()), 4), "lp_bound": round(bound, 4),
            "gap": round(float(gap), 6), "seconds": round(time.process_time() - started, 3)}  # fmt: skip


def _milp(lp: PlanningLP, primary: np.ndarray, secondary: np.ndarray, seconds: float):
    """The daily model with integer batch columns; (batches, HiGHS's gap), or None when no whole plan was found."""
    h = lp.integer_solver(primary, secondary)
    h.setOptionValue("time_limit", float(seconds))
    h.setOptionValue("mip_rel_gap", MILP_GAP)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    if status == highspy.HighsModelStatus.kInfeasible:
        raise EngineError(
            "No plan of whole batches keeps the stock limits (the wet-waste cap or storage). Allow fractional "
            "batches to see by how much, or raise the limit.",
            "wet_waste_cap",
        )
    if info.primal_solution_status != 2:  # no feasible whole-batch plan within the time: round the LP instead
        return None
    solution = np.array(h.getSolution().col_value)
    batches = np.round(lp.daily_batches(solution))
    return batches, max(float(info.mip_gap), 0.0) if math.isfinite(info.mip_gap) else 1.0


def _round_and_repair(p: Problem, relaxed: np.ndarray, per_batch: np.ndarray, lp: PlanningLP) -> np.ndarray:
    """Whole batches that follow the LP's cumulative schedule (a recipe runs once its running total reaches the
    next whole batch, so a horizon loses at most one batch per recipe to rounding); each day, in upstream-first
    order, as many of the due batches as hours, energy, crew time and stock allow — the rest wait for the next
    day — then more whole batches of whatever is worth something to the objective while they still fit."""
    cumulative = np.floor(np.cumsum(relaxed, axis=0) + 1e-6)
    due = np.diff(np.vstack([np.zeros(len(p.recipe_keys)), cumulative]), axis=0)
    order = upstream_first(p)
    by_value = [r for r in sorted(range(len(p.recipe_keys)), key=lambda r: -per_batch[r]) if per_batch[r] > 0]
    batches = np.zeros_like(relaxed)
    waiting = np.zeros(len(p.recipe_keys))
    stock = np.zeros(len(p.items))
    hours, crew = lp.budgets
    arrivals = p.arrivals_by_day()
    room = Room(p.sinks, p.net)
    for t in range(p.days):
        stock += arrivals[t]
        day = _Day(p, hours[:, t], float(crew[t]), stock, room)
        waiting += due[t]
        for r in order:
            ran = day.run(r, int(waiting[r]))
            batches[t, r] += ran
            waiting[r] -= ran
        for r in by_value:
            batches[t, r] += day.run(r, 1_000_000)
        room.end_day()
    return batches


class _Day:
    """What is left of one day's hours, energy and crew time, the store and the sinks' room, as whole batches run."""

    def __init__(self, p: Problem, hours: np.ndarray, crew: float, stock: np.ndarray, room: Room) -> None:
        self.p, self.hours, self.energy, self.crew, self.stock = p, hours.copy(), p.energy_per_day, crew, stock
        self.room = room

    def run(self, r: int, wanted: int) -> int:
        """Run up to `wanted` whole batches of recipe r; how many ran."""
        p = self.p
        if wanted <= 0:
            return 0
        limits = [wanted, self.hours[p.recipe_module[r]] / p.duration_h[r]]
        if p.energy_kwh[r] > 0:
            limits.append(self.energy / p.energy_kwh[r])
        if p.crew_h[r] > 0:
            limits.append(self.crew / p.crew_h[r])
        needs = np.flatnonzero(p.inputs[r])
        if needs.size:
            limits.append(float((self.stock[needs] / p.inputs[r, needs]).min()))
        limits.append(self.room.most(r))
        n = max(0, math.floor(min(limits) + 1e-9))
        if n:
            self.room.add(r, n)
            self.stock += n * p.net[r]
            self.hours[p.recipe_module[r]] -= n * p.duration_h[r]
            self.energy -= n * p.energy_kwh[r]
            self.crew -= n * p.crew_h[r]
        return n
