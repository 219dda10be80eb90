"""The planning LP (habitat.md §3.4), solved with HiGHS in two lexicographic stages.

HiGHS is the solver behind scipy's linprog; we call it through highspy, its maintainers' own bindings, because
they keep a model and its basis between solves: the second stage and every Monte Carlo scenario only change
bounds, so they restart from the previous optimum instead of from scratch (milliseconds instead of tens).

Days after the first week are grouped into blocks of up to a week in which every budget is the same; a block's
batches are spread evenly over its days. Stock changes linearly inside a block, so a block that keeps its limits at
both ends keeps them on every day: the daily plan is feasible by construction, and the LP is a fraction of the size.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
from scipy.sparse import coo_matrix, vstack

from webapp.simulations.engine.errors import EngineError
from webapp.simulations.engine.model import Problem
from webapp.simulations.engine.power import PowerRows
from webapp.simulations.engine.sinks import inflow

# tie-breakers, far below any kilogram that matters: prefer processing waste, then spending less energy
EPS_WASTE = 1e-4
EPS_ENERGY = 1e-5
# strict lexicographic by default: a 2 % tolerance let the second stage give up enough of the first objective to
# reverse rankings (the waste-minimising plan processed less waste than the brick-maximising one at 365 days)
DEFAULT_TAU = 0.0
# what the second stage may lose to floating point when it keeps the first objective at its optimum (tau = 0)
KEEP_SLACK = 1e-9
DAILY_HEAD_DAYS = 7
MAX_BLOCK_DAYS = 7
EXCESS_PENALTY = 1e4
OBJECTIVES = ("throughput_optimization", "waste_minimization")


def blocks(
    hours: np.ndarray,
    crew: np.ndarray,
    head: int = DAILY_HEAD_DAYS,
    longest: int = MAX_BLOCK_DAYS,
    light: np.ndarray | None = None,
    arrivals: np.ndarray | None = None,
) -> np.ndarray:
    """Start day of each planning block: single days first, then runs of identical budgets (and lit hours, and
    arrivals: a resupply day is a block of its own) up to `longest` days."""
    light = np.zeros(hours.shape[1]) if light is None else light
    starts = [0]
    for t in range(1, hours.shape[1]):
        same = np.array_equal(hours[:, t], hours[:, t - 1]) and crew[t] == crew[t - 1] and light[t] == light[t - 1]
        same = same and (arrivals is None or np.array_equal(arrivals[t], arrivals[t - 1]))
        if t < head or not same or t - starts[-1] >= longest:
            starts.append(t)
    return np.array(starts)


@dataclass
class _Layout:
    n_x: int
    n_inv: int
    n_excess: int
    tracked: np.ndarray
    capped: list[int]  # positions in `tracked` with a wet-waste cap


class PlanningLP:
    """The LP of one problem. `daily` gives every day its own block, so module hours and crew time can change
    between solves (Monte Carlo scenarios) while HiGHS keeps its basis."""

    def __init__(
        self,
        problem: Problem,
        hours: np.ndarray | None = None,
        crew: np.ndarray | None = None,
        daily: bool = False,
        starts: np.ndarray | None = None,
    ):
        self.p = p = problem
        hours = p.hours if hours is None else hours
        crew = np.full(p.days, p.crew_h_per_day) if crew is None else crew
        light = p.power.light_h if p.power is not None else None
        if starts is None:
            starts = np.arange(p.days) if daily else blocks(hours, crew, light=light, arrivals=p.arrivals)
        self.starts = starts
        self.length = np.diff(np.append(self.starts, p.days)).astype(float)
        P, R, K = len(self.starts), len(p.recipe_keys), len(p.module_keys)
        consumed = p.inputs.sum(axis=0) > 0
        has_volume = p.storage_m3 is not None
        # stock variables for what is consumed, for waste, and — under a storage limit — for whatever takes room in
        # storage (tiles and blocks nothing consumes, residue): a made-only product needs none otherwise
        kept = p.stored() if has_volume else p.mask("waste")
        tracked = np.flatnonzero(consumed | ((p.outputs.sum(axis=0) > 0) & kept))
        J = tracked.size
        capped = [j for j, i in enumerate(tracked) if np.isfinite(p.wet_cap_kg[i])]
        n_x, n_inv = P * R, P * J
        n_excess = P * len(capped) + (P if has_volume else 0)
        self.lay = _Layout(n_x, n_inv, n_excess, tracked, capped)
        self._volume_per_day: float | None = None
        self.power = PowerRows(p, self.starts, self.length, n_x + n_inv + n_excess) if p.power else None
        # named sinks with a capacity that some recipe feeds: a level and a drain column per block each
        limited = [s for s in p.sinks if s.limited]
        into = inflow(limited, p.net)
        feeds = np.abs(into).sum(axis=0) > 0
        self.sinks, self._sink_into = [s for s, f in zip(limited, feeds, strict=True) if f], into[:, feeds]
        self._sink_col = n_x + n_inv + n_excess + (self.power.n_cols if self.power else 0)
        self.width = width = self._sink_col + 2 * P * len(self.sinks)
        # stock balance per block: I[b,j] - I[b-1,j] - sum_r net[r,j] x[b,r] = what arrives in the block (L_b * G[j])
        rows, cols, vals = [], [], []
        b_idx, j_idx = np.meshgrid(np.arange(P), np.arange(J), indexing="ij")
        row = (b_idx * J + j_idx).ravel()
        rows.append(row), cols.append(n_x + row), vals.append(np.ones(row.size))
        later = row[J:]
        rows.append(later), cols.append(n_x + later - J), vals.append(-np.ones(later.size))
        net = p.net[:, tracked]
        r_nz, j_nz = np.nonzero(net)
        rows.append((np.arange(P)[:, None] * J + j_nz).ravel())
        cols.append((np.arange(P)[:, None] * R + r_nz).ravel())
        vals.append(np.tile(-net[r_nz, j_nz], P))
        A_eq = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(P * J, width))
        self.b_eq = self._arriving(p.arrivals_by_day())

        # per block: module hours, energy, crew time (a block's budget is its days' budgets summed)
        per_batch = np.zeros((K + 2, R))
        per_batch[p.recipe_module, np.arange(R)] = p.duration_h
        per_batch[K], per_batch[K + 1] = p.energy_kwh, p.crew_h
        m_nz, r_nz = np.nonzero(per_batch)
        parts = [
            coo_matrix(
                (
                    np.tile(per_batch[m_nz, r_nz], P),
                    ((np.arange(P)[:, None] * (K + 2) + m_nz).ravel(), (np.arange(P)[:, None] * R + r_nz).ravel()),
                ),
                shape=(P * (K + 2), width),
            )
        ]
        fixed_rhs = []

        # wet-waste caps and storage volume at block ends, each with an excess column (held at 0 unless elastic)
        if capped:
            C = len(capped)
            r = np.arange(P * C)
            inv_cols = n_x + (np.arange(P)[:, None] * J + np.array(capped)[None, :]).ravel()
            parts.append(
                coo_matrix(
                    (
                        np.concatenate([np.ones(r.size), -np.ones(r.size)]),
                        (np.concatenate([r, r]), np.concatenate([inv_cols, n_x + n_inv + r])),
                    ),
                    shape=(P * C, width),
                )
            )
            fixed_rhs.append(np.tile(p.wet_cap_kg[tracked[capped]], P))
        if has_volume:
            fixed_rhs.append(self._volume_rows(parts, tracked, P, J, len(capped)))
        if self.power:
            power_ub, power_rhs, power_eq, power_eq_rhs = self.power.rows(width, p.energy_per_day)
            # where the power rows' bounds sit, so a moved window (light, storage) can rewrite them
            self._power_ub_at, self._power_eq_at = sum(part.size for part in fixed_rhs), A_eq.shape[0]
            parts.append(power_ub), fixed_rhs.append(power_rhs)
            A_eq = vstack([A_eq, power_eq])
            self.b_eq = np.concatenate([self.b_eq, power_eq_rhs])
        self._sink_row = A_eq.shape[0]
        if self.sinks:
            A_eq = vstack([A_eq, self._sink_balance(P, R)])
            self.b_eq = np.concatenate([self.b_eq, np.zeros(P * len(self.sinks))])
        A_ub = vstack(parts)
        self._fixed_rhs = np.concatenate(fixed_rhs) if fixed_rhs else np.zeros(0)
        self.n_eq, self.n_ub = A_eq.shape[0], A_ub.shape[0]
        self.A = vstack([A_eq, A_ub]).tocsc()

        target = p.index(p.target)
        self.target_x = np.tile(p.net[:, target], P)
        self.waste_x = np.tile(-p.net[:, p.mask("waste")].sum(axis=1), P)
        self.energy_x = np.tile(p.energy_kwh, P)
        self._hours, self._crew = hours, crew
        self._solvers: dict[tuple[str, int], highspy.Highs] = {}
        self._eq_changed = False

    def _sink_balance(self, P: int, R: int):
        """Each limited sink's level per block: level[b] - level[b-1] + drain[b] - what its recipes put in = 0 (the
        opening level on the first block's right-hand side); levels bounded by capacity, drains by rate × days."""
        S, into = len(self.sinks), self._sink_into
        level = self._sink_col + np.arange(P * S)
        row = np.arange(P * S)
        rows, cols = [row, row, row[S:]], [level, level + P * S, level[:-S]]  # level, drain, the level before
        vals = [np.ones(P * S), np.ones(P * S), -np.ones(P * S - S)]
        r_nz, s_nz = np.nonzero(into)
        rows.append((np.arange(P)[:, None] * S + s_nz).ravel())
        cols.append((np.arange(P)[:, None] * R + r_nz).ravel())
        vals.append(np.tile(-into[r_nz, s_nz], P))
        return coo_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(P * S, self.width)
        )

    def _sink_upper(self) -> np.ndarray:
        """Upper bounds of the sink columns: levels at capacity, drains at rate × the block's days."""
        capacity = np.array([s.capacity_kg for s in self.sinks])
        drain = np.array([s.drain_kg_per_day for s in self.sinks])
        return np.concatenate([np.tile(capacity, len(self.starts)), np.outer(self.length, drain).ravel()])

    def sink_levels(self, solution: np.ndarray) -> np.ndarray:
        """(blocks, limited sinks) levels at each block's end in a solution."""
        P, S = len(self.starts), len(self.sinks)
        return solution[self._sink_col : self._sink_col + P * S].reshape(P, S)

    def _volume_rows(self, parts: list, tracked: np.ndarray, P: int, J: int, n_capped: int) -> np.ndarray:
        """Stored volume at each block's end ≤ storage — waste, compacted tiles and blocks, residue (Problem.stored);
        waste no recipe touches is a known, growing stock."""
        p, n_x, n_inv = self.p, self.lay.n_x, self.lay.n_inv
        gen = p.generation
        waste = p.mask("waste")
        density = p.densities()
        untracked = np.setdiff1d(np.flatnonzero(waste), tracked)
        per_day = (gen[untracked] / density[untracked]).sum()
        self._volume_per_day = per_day
        self._untracked_m3 = 1.0 / density[untracked], untracked
        fixed = self._untracked_volume(p.arrivals_by_day())
        if fixed[-1] > p.storage_m3:
            raise EngineError(
                f"Storage volume of {p.storage_m3:g} m³ is full by day {int(np.ceil(p.storage_m3 / per_day))} "
                f"with waste no recipe processes ({', '.join(p.items[i].name for i in untracked)}).",
                "storage_volume",
            )
        kept = p.stored()
        tw = np.array([j for j, i in enumerate(tracked) if kept[i]], dtype=int)
        rows = np.concatenate([np.repeat(np.arange(P), tw.size), np.arange(P)])
        cols = np.concatenate(
            [n_x + (np.arange(P)[:, None] * J + tw[None, :]).ravel(), n_x + n_inv + P * n_capped + np.arange(P)]
        )
        vals = np.concatenate([np.tile(1.0 / density[tracked[tw]], P), -np.ones(P)])
        parts.append(coo_matrix((vals, (rows, cols)), shape=(P, self.width)))
        return p.storage_m3 - fixed

    def _row_upper(self, hours: np.ndarray, crew: np.ndarray) -> np.ndarray:
        budget = np.column_stack(
            [hours[:, self.starts].T, np.full(len(self.starts), self.p.energy_per_day), crew[self.starts]]
        )
        return np.concatenate([(budget * self.length[:, None]).ravel(), self._fixed_rhs])

    def _col_upper(self, hours: np.ndarray, elastic: bool = False) -> np.ndarray:
        # a module without hours in a block runs nothing there: bound its recipes to 0 (helps presolve)
        module_hours = hours[:, self.starts][self.p.recipe_module].T
        x_upper = np.where(module_hours > 0, highspy.kHighsInf, 0.0).ravel()
        excess = np.full(self.lay.n_excess, highspy.kHighsInf if elastic else 0.0)
        power = self.power.col_upper() if self.power else np.zeros(0)
        sinks = self._sink_upper() if self.sinks else np.zeros(0)
        return np.concatenate([x_upper, np.full(self.lay.n_inv, highspy.kHighsInf), excess, power, sinks])

    def _pad(self, x_part: np.ndarray) -> np.ndarray:
        return np.concatenate([x_part, np.zeros(self.width - self.lay.n_x)])

    def _new_solver(self, cost: np.ndarray, hours, crew, elastic: bool = False, integer: bool = False) -> highspy.Highs:
        inf = highspy.kHighsInf
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.width, self.n_eq + self.n_ub
        lp.col_cost_ = cost
        lp.col_lower_ = np.zeros(self.width)
        lp.col_upper_ = self._col_upper(hours, elastic)
        lp.row_lower_ = np.concatenate([self.b_eq, np.full(self.n_ub, -inf)])
        lp.row_upper_ = np.concatenate([self.b_eq, self._row_upper(hours, crew)])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = self.A.indptr, self.A.indices, self.A.data
        if integer:  # whole batches (engine/integer.py); stock and excess columns stay continuous
            kinds = highspy.HighsVarType
            integrality = [kinds.kInteger] * self.lay.n_x + [kinds.kContinuous] * (self.width - self.lay.n_x)
            if self.power:  # batches run in the dark are whole too
                for col in self.power.dark_columns():
                    integrality[col] = kinds.kInteger
            lp.integrality_ = integrality
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", 1)
        h.passModel(lp)
        return h

    def _update(self, h: highspy.Highs, hours, crew) -> None:
        ub_rows = np.arange(self.n_eq, self.n_eq + self.n_ub, dtype=np.int32)
        h.changeRowsBounds(
            ub_rows.size, ub_rows, np.full(ub_rows.size, -highspy.kHighsInf), self._row_upper(hours, crew)
        )
        cols = np.arange(self.width, dtype=np.int32)
        h.changeColsBounds(cols.size, cols, np.zeros(self.width), self._col_upper(hours))
        if self._eq_changed:  # a rolling window moved: its opening stock and the days left changed
            eq_rows = np.arange(self.n_eq, dtype=np.int32)
            h.changeRowsBounds(eq_rows.size, eq_rows, self.b_eq, self.b_eq)

    def _arriving(self, arrivals: np.ndarray) -> np.ndarray:
        """Right-hand side of the stock balance rows: each block's arrivals of each tracked item."""
        return np.add.reduceat(arrivals[:, self.lay.tracked], self.starts, axis=0).ravel()

    def _untracked_volume(self, arrivals: np.ndarray) -> np.ndarray:
        """Volume of the waste no recipe touches, stored by the end of each block."""
        per_m3, untracked = self._untracked_m3
        by_day = np.cumsum(arrivals[:, untracked] @ per_m3)
        return by_day[(self.starts + self.length).astype(int) - 1]

    def set_arrivals(self, arrivals: np.ndarray) -> None:
        """A scenario's own daily arrivals (T, I) instead of the mean (Monte Carlo with varying generation); takes
        effect at the next solve."""
        n = len(self.starts) * self.lay.tracked.size
        self.b_eq = np.concatenate([self._arriving(arrivals), self.b_eq[n:]])
        if self._volume_per_day is not None:
            P, C = len(self.starts), len(self.lay.capped)
            self._fixed_rhs[P * C : P * C + P] = self.p.storage_m3 - self._untracked_volume(arrivals)
        self._eq_changed = True

    def move_window(
        self,
        opening_stock: np.ndarray,
        days_left: np.ndarray,
        first_day: int,
        today: np.ndarray | None = None,
        sink_levels: np.ndarray | None = None,
        light_by_day: np.ndarray | None = None,
        battery_kwh: float | None = None,
    ) -> None:
        """Re-aim the LP at a window of a longer horizon (engine/rolling.py): the stock it opens with, how many of
        each block's days are still inside the horizon (generation stops past it), the day it starts on (the
        storage volume counts the waste no recipe touches since day 1), the level each limited sink opens at
        (`sink_levels`, in the order of `self.sinks`) and, under a power profile, the window's lit hours by day and
        the storage it opens with. Takes effect at the next solve."""
        p, lay = self.p, self.lay
        gen = p.generation[lay.tracked]
        b_eq = np.outer(days_left, gen)
        if today is not None:  # what arrived today is known; later days are expected at the mean
            b_eq[0] = today[lay.tracked] * days_left[0]
        b_eq[0] += opening_stock[lay.tracked]
        self.b_eq = np.concatenate([b_eq.ravel(), self.b_eq[b_eq.size :]])
        if self.power and light_by_day is not None:
            self.power.set_window(light_by_day, self.p.power.battery_kwh if battery_kwh is None else battery_kwh)
            ub, eq = self.power.rhs(self.p.energy_per_day)
            self._fixed_rhs[self._power_ub_at : self._power_ub_at + ub.size] = ub
            self.b_eq[self._power_eq_at : self._power_eq_at + eq.size] = eq
        if self.sinks and sink_levels is not None:
            capacity = np.array([s.capacity_kg for s in self.sinks])  # greedy draining keeps it there; bar rounding
            self.b_eq[self._sink_row : self._sink_row + len(self.sinks)] = np.minimum(sink_levels, capacity)
        if self._volume_per_day is not None:
            P, C = len(self.starts), len(lay.capped)
            fixed = (first_day + np.cumsum(days_left)) * self._volume_per_day
            self._fixed_rhs[P * C : P * C + P] = p.storage_m3 - fixed
        self._eq_changed = True

    @staticmethod
    def _outcome(h: highspy.Highs) -> str:
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            return "optimal"
        if status in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
            return "infeasible"
        raise EngineError(f"The optimiser stopped: {h.modelStatusToString(status)}", "solver")

    def objectives(self, objective: str) -> tuple[np.ndarray, np.ndarray]:
        """(primary, secondary) value per batch column for an objective's two lexicographic stages."""
        if objective == "throughput_optimization":
            return self.target_x, self.waste_x
        if objective == "waste_minimization":
            return self.waste_x, self.target_x
        raise EngineError(f"Unknown objective {objective!r}.", "run_type")

    def solve(
        self,
        objective: str,
        tau: float = DEFAULT_TAU,
        elastic: bool = False,
        hours: np.ndarray | None = None,
        crew: np.ndarray | None = None,
    ) -> np.ndarray:
        """Daily batches (T, R): the primary objective's optimum, then the secondary within tau of it.

        Infeasible stock limits raise an EngineError naming the limit, or with `elastic` are exceeded as little
        as possible (Monte Carlo scenarios record that instead of failing). New `hours`/`crew` need `daily`."""
        changed = hours is not None or crew is not None
        hours = self._hours if hours is None else hours
        crew = self._crew if crew is None else crew
        primary, secondary = self.objectives(objective)
        tie = EPS_WASTE * secondary - EPS_ENERGY * self.energy_x
        first = self._stage(objective, 1, self._pad(-(primary + tie)), hours, crew, changed)
        first.run()
        if self._outcome(first) == "infeasible":
            excess = self._least_excess(primary + tie, hours, crew)
            if not elastic:
                self._raise_for(excess)
            return self._daily(excess)
        x1 = np.array(first.getSolution().col_value)
        best = float(primary @ x1[: self.lay.n_x])
        if best <= 1e-9:
            return self._daily(x1)
        second = self._stage(
            objective,
            2,
            self._pad(-(secondary - EPS_ENERGY * self.energy_x)),
            hours,
            crew,
            changed,
            rows=((self._pad(primary), (1.0 - tau) * best - KEEP_SLACK * max(1.0, abs(best))),),
        )
        second.run()
        if self._outcome(second) != "optimal":  # numerically the first stage is always an answer
            return self._daily(x1)
        return self._daily(np.array(second.getSolution().col_value))

    def bounded_solve(self, name: str, primary: np.ndarray, secondary: np.ndarray, floor: float) -> np.ndarray | None:
        """Daily batches maximising `primary` while `secondary` stays at or above `floor`, then `secondary` with
        `primary` kept at that optimum: one efficient point of the trade-off between them (a Pareto sweep,
        engine/study.py). None when no plan reaches the floor. Solvers are kept under `name`, so the next floor
        restarts from this basis."""
        hours, crew, at_floor = self._hours, self._crew, (self._pad(secondary), floor)
        cost = self._pad(-(primary - EPS_ENERGY * self.energy_x))
        first = self._stage(name, 1, cost, hours, crew, False, (at_floor,))
        first.run()
        if self._outcome(first) == "infeasible":
            return None
        x1 = np.array(first.getSolution().col_value)
        best = float(primary @ x1[: self.lay.n_x])
        kept = (self._pad(primary), best - KEEP_SLACK * max(1.0, abs(best)))
        cost = self._pad(-(secondary - EPS_ENERGY * self.energy_x))
        second = self._stage(name, 2, cost, hours, crew, False, (at_floor, kept))
        second.run()
        if self._outcome(second) != "optimal":  # numerically the first stage is always an answer
            return self._daily(x1)
        return self._daily(np.array(second.getSolution().col_value))

    def _stage(
        self, key: str, stage: int, cost: np.ndarray, hours, crew, changed: bool, rows: tuple = ()
    ) -> highspy.Highs:
        """The solver kept for (key, stage), built on first use with `rows` — (vector, lower bound) pairs added below
        the model's own rows — and afterwards warm: only the bounds of those rows (and changed budgets) move."""
        h = self._solvers.get((key, stage))
        if h is None:
            h = self._new_solver(cost, hours, crew)
            for vector, low in rows:
                nz = np.flatnonzero(vector)
                h.addRow(low, highspy.kHighsInf, nz.size, nz.astype(np.int32), vector[nz])
            self._solvers[(key, stage)] = h
            return h
        # presolve rebuilds the model and drops the basis: after the first (cold) solve, restart from the basis
        h.setOptionValue("presolve", "off")
        if changed:
            self._update(h, hours, crew)
        for n, (_, low) in enumerate(rows):
            h.changeRowBounds(self.n_eq + self.n_ub + n, low, highspy.kHighsInf)
        return h

    def _least_excess(self, value: np.ndarray, hours, crew) -> np.ndarray:
        cost = np.concatenate([-value, np.zeros(self.lay.n_inv), np.full(self.lay.n_excess, EXCESS_PENALTY)])
        cost = np.concatenate([cost, np.zeros(self.width - cost.size)])
        h = self._new_solver(cost, hours, crew, elastic=True)
        h.run()
        if self._outcome(h) != "optimal":
            raise EngineError("The plan is infeasible and the optimiser could not say why.", "solver")
        return np.array(h.getSolution().col_value)

    def excess(self, solution: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cap excess (blocks × capped items) and volume excess (blocks) of a solution."""
        P, C = len(self.starts), len(self.lay.capped)
        start = self.lay.n_x + self.lay.n_inv
        end = start + self.lay.n_excess
        return solution[start : start + P * C].reshape(P, C), solution[start + P * C : end]

    def _raise_for(self, solution: np.ndarray) -> None:
        p = self.p
        cap, volume = self.excess(solution)
        if cap.size and cap.max() > 1e-7:
            b = int(np.flatnonzero((cap > 1e-7).any(axis=1))[0])
            item = p.items[self.lay.tracked[self.lay.capped[int(np.argmax(cap[b]))]]]
            raise EngineError(
                f"The wet-waste cap cannot hold: {item.name} goes over its {p.wet_cap_kg[p.index(item.key)]:.2f} kg "
                f"limit by day {int(self.starts[b] + self.length[b])} (by {cap[b].max():.2f} kg) even processing all "
                "it can. Raise the cap, the energy or crew time, or bring its module back."
                + self._full_sinks(solution)
                + (
                    " Under the lunar profile, nights run on storage and night power only: raise them."
                    if self._lunar
                    else ""
                ),
                "wet_waste_cap",
            )
        if volume.size and volume.max() > 1e-9:
            b = int(np.argmax(volume > 1e-9))
            raise EngineError(
                f"Storage volume of {p.storage_m3:g} m³ is exceeded by day {int(self.starts[b] + self.length[b])} "
                f"(by {volume[b]:.3f} m³) even processing all it can."
                + self._full_sinks(solution)
                + (
                    " Under the lunar profile, nights run on storage and night power only: raise them."
                    if self._lunar
                    else ""
                ),
                "storage_volume",
            )
        raise EngineError("The plan is infeasible.", "solver")

    def _full_sinks(self, solution: np.ndarray) -> str:
        """A hint naming the sinks a solution fills to capacity: a full sink stops the recipes that feed it."""
        if not self.sinks:
            return ""
        top = self.sink_levels(solution).max(axis=0)
        full = [s.name for s, level in zip(self.sinks, top, strict=True) if level >= s.capacity_kg * (1 - 1e-6)]
        if not full:
            return ""
        one = len(full) == 1
        return (
            f" {' and '.join(full)} {'is' if one else 'are'} full, which stops the recipes that feed "
            f"{'it' if one else 'them'}: give {'it' if one else 'them'} more room or intake."
        )

    @property
    def budgets(self) -> tuple[np.ndarray, np.ndarray]:
        """(module hours (K, T), crew hours (T,)) the LP was built with."""
        return self._hours, self._crew

    def integer_solver(self, primary: np.ndarray, secondary: np.ndarray) -> highspy.Highs:
        """A HiGHS MILP of this model with whole batch columns (and dark batches), the secondary objective and
        energy as tie-breakers (engine/integer.py)."""
        cost = self._pad(-(primary + EPS_WASTE * secondary - EPS_ENERGY * self.energy_x))
        return self._new_solver(cost, self._hours, self._crew, integer=True)

    def daily_batches(self, solution: np.ndarray) -> np.ndarray:
        """Batches per day (T, R) of a solution vector, blocks spread evenly over their days."""
        return self._daily(solution)

    def power_plan(self) -> dict[str, np.ndarray] | None:
        """The last solution's power decisions per day (engine/power.py); None without a power profile."""
        return self.power.daily(self.last_solution) if self.power else None

    @property
    def _lunar(self) -> bool:
        return self.p.power is not None and self.p.power.lunar

    def _daily(self, solution: np.ndarray) -> np.ndarray:
        self.last_solution = solution
        per_block = solution[: self.lay.n_x].reshape(len(self.starts), len(self.p.recipe_keys))
        per_block = np.where(per_block > 1e-9, per_block, 0.0)
        return np.repeat(per_block / self.length[:, None], self.length.astype(int), axis=0)
