"""Waste that does not arrive like clockwork (habitat.md §3.5 asks for variance in generation): each waste stream's
daily amount in a Monte Carlo scenario is its mean times a gamma-distributed factor of mean 1, and EVA days may fall
on any days of their week (as many a week as scheduled) instead of spread evenly.

Drawn from generators of their own per scenario (the run's seed and the scenario's number), so adding variance
leaves every scenario's failures as they were, and the pool's processes draw the same days whatever the chunking.
"""

from __future__ import annotations

import numpy as np

from webapp.simulations.engine.model import Problem, eva_days_of_week

STREAM = 0x6E6F6973  # keeps these draws apart from the failure draws of the same seed
EVA_STREAM = 0x65766173
MAX_CV = 1.0


def sample_arrivals(p: Problem, cv: float, seed: int, scenario: int, eva_random: bool = False) -> np.ndarray | None:
    """(T, I) kg arriving each day in one scenario: waste streams varied day by day with coefficient of variation
    `cv` (same mean; regolith supply stays as planned), and with `eva_random` the EVA days drawn at random within
    each week; None when neither applies (every day as planned)."""
    eva_random = eva_random and p.eva_schedule is not None
    if cv <= 0 and not eva_random:
        return None
    arrivals = np.array(p.arrivals_by_day())  # the mean day by day (resupply pulses and EVA days included)
    if eva_random:
        _move_eva_days(p, arrivals, np.random.default_rng([seed, EVA_STREAM, scenario]))
    if cv > 0:
        rng = np.random.default_rng([seed, STREAM, scenario])
        shape = 1.0 / cv**2
        factor = rng.gamma(shape, 1.0 / shape, size=(p.days, len(p.items)))
        waste = p.mask("waste")
        arrivals[:, waste] *= factor[:, waste]
    return arrivals


def _move_eva_days(p: Problem, arrivals: np.ndarray, rng: np.random.Generator) -> None:
    """Each week's EVA waste moved to as many days of that week drawn at random (the last, short week keeps its
    count where it has the days)."""
    per_week, item, kg = p.eva_schedule
    for week in range(0, p.days, 7):
        days = np.arange(week, min(week + 7, p.days))
        scheduled = eva_days_of_week(week, per_week, p.days)
        arrivals[scheduled, item] -= kg
        arrivals[rng.choice(days, size=len(scheduled), replace=False), item] += kg
