"""Waste that does not arrive like clockwork (habitat.md §3.5 asks for variance in generation): each waste stream's
daily amount in a Monte Carlo scenario is its mean times a gamma-distributed factor of mean 1.

Drawn from its own generator per scenario (the run's seed and the scenario's number), so adding variance leaves
every scenario's failures as they were, and the pool's processes draw the same days whatever the chunking.
"""

from __future__ import annotations

import numpy as np

from webapp.simulations.engine.model import Problem

STREAM = 0x6E6F6973  # keeps these draws apart from the failure draws of the same seed
MAX_CV = 1.0


def sample_arrivals(p: Problem, cv: float, seed: int, scenario: int) -> np.ndarray | None:
    """(T, I) kg arriving each day in one scenario: waste streams varied day by day with coefficient of variation
    `cv` (same mean; regolith supply stays as planned); None when `cv` is 0 (every day the mean)."""
    if cv <= 0:
        return None
    rng = np.random.default_rng([seed, STREAM, scenario])
    shape = 1.0 / cv**2
    factor = rng.gamma(shape, 1.0 / shape, size=(p.days, len(p.items)))
    arrivals = np.array(p.arrivals_by_day())  # the mean day by day (resupply pulses included)
    waste = p.mask("waste")
    arrivals[:, waste] *= factor[:, waste]
    return arrivals
