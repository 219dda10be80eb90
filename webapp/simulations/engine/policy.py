"""The fixed operating policy of a `mass_balance` run: whole batches in priority order, as a crew would run them
(never into a full sink: engine/sinks.py)."""

from __future__ import annotations

import math

import numpy as np

from webapp.simulations.engine.model import Problem
from webapp.simulations.engine.sinks import Room


def run_policy(p: Problem, hours: np.ndarray | None = None, crew_per_day: np.ndarray | None = None) -> np.ndarray:
    """Batches (T, R): each day, each recipe in priority order runs as many whole batches as stock, budgets and the
    sinks' room allow."""
    hours = p.hours if hours is None else hours
    T, R = p.days, len(p.recipe_keys)
    batches = np.zeros((T, R))
    stock = np.zeros(len(p.items))
    arrivals = p.arrivals_by_day()
    room = Room(p.sinks, p.net)
    for t in range(T):
        stock += arrivals[t]
        left_hours = hours[:, t].copy()
        energy = p.energy_per_day
        crew = p.crew_h_per_day if crew_per_day is None else float(crew_per_day[t])
        for r in range(R):
            k = p.recipe_module[r]
            limits = [left_hours[k] / p.duration_h[r]]
            if p.energy_kwh[r] > 0:
                limits.append(energy / p.energy_kwh[r])
            if p.crew_h[r] > 0:
                limits.append(crew / p.crew_h[r])
            needs = np.flatnonzero(p.inputs[r])
            limits.extend(stock[needs] / p.inputs[r, needs])
            limits.append(room.most(r))
            n = math.floor(min(limits) + 1e-9)
            if n <= 0:
                continue
            batches[t, r] = n
            room.add(r, n)
            stock += n * p.net[r]
            left_hours[k] -= n * p.duration_h[r]
            energy -= n * p.energy_kwh[r]
            crew -= n * p.crew_h[r]
        room.end_day()
    return batches
