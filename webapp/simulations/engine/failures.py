"""Module failures and repairs (habitat.md §3.5): an alternating renewal process, reduced to hours per day."""

from __future__ import annotations

import numpy as np

from webapp.simulations.engine.model import Problem

# share of a repair's duration that needs a crew member's hands [E]
REPAIR_CREW_FRACTION = 0.5


def sample_downtime(p: Problem, rng: np.random.Generator) -> np.ndarray:
    """Hours each module is down on each day (K, T): exponential time to failure and to repair, from day 0 up."""
    horizon = p.days * 24.0
    down = np.zeros((len(p.module_keys), p.days))
    for k in range(len(p.module_keys)):
        mtbf, mttr = p.mtbf_h[k], p.mttr_h[k]
        if not np.isfinite(mtbf) or mttr <= 0 or not p.hours[k].any():
            continue
        clock = 0.0
        while True:
            clock += rng.exponential(mtbf)
            if clock >= horizon:
                break
            repair = rng.exponential(mttr)
            _add_interval(down[k], clock, min(clock + repair, horizon))
            clock += repair
    return down


def _add_interval(row: np.ndarray, start: float, end: float) -> None:
    first, last = int(start // 24), int(min(end, row.size * 24 - 1e-9) // 24)
    for day in range(first, last + 1):
        row[day] += min(end, (day + 1) * 24.0) - max(start, day * 24.0)


def available_hours(p: Problem, down: np.ndarray) -> np.ndarray:
    """Planned hours scaled by the share of each day the module was up."""
    return p.hours * (24.0 - down) / 24.0


def crew_after_repairs(p: Problem, down: np.ndarray) -> np.ndarray:
    """Crew hours per day left for recipes once repairs took their share."""
    return np.maximum(p.crew_h_per_day - REPAIR_CREW_FRACTION * down.sum(axis=0), 0.0)
