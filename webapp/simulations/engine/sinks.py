"""Named sinks: where recovered water, air gases and propellant go (water recovery, air system, propellant storage).

Each sink takes the resources routed to it as recipes make them, holds at most its capacity (kg) and passes on up
to its drain a day (the water processor's intake, the air revitalisation's uptake; propellant storage drains
nothing, it fills until the ascent vehicle is loaded). A full sink stops the recipes that feed it: the reformer
cannot run while the water bus has no room. A sink without a capacity is unlimited (as before sinks existed).

A day's drain is greedy: the sink passes on all it can, so its level at a day's end is
max(0, level before + what the day brought − drain); a plan keeps that level at or below the capacity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FIT_SLACK_KG = 1e-7


@dataclass(frozen=True)
class Sink:
    """One named sink: the items it takes, its capacity (None: unlimited) and drain per day."""

    key: str
    name: str
    takes: np.ndarray  # (I,) 1.0 where the sink takes the item, else 0.0
    capacity_kg: float | None
    drain_kg_per_day: float

    @property
    def limited(self) -> bool:
        """Whether a plan must keep its level under a capacity."""
        return self.capacity_kg is not None


def inflow(sinks: list[Sink], net: np.ndarray) -> np.ndarray:
    """(R, S) kg each batch of each recipe puts into each sink (a recipe using the sink's water takes from it)."""
    if not sinks:
        return np.zeros((net.shape[0], 0))
    return net @ np.stack([s.takes for s in sinks], axis=1)


def close_day(level: np.ndarray, into: np.ndarray, drain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(level at the day's end, what was passed on) of sinks that held `level` and took in `into` that day."""
    before = np.maximum(level + into, 0.0)
    passed = np.minimum(before, drain)
    return before - passed, passed


def levels(sinks: list[Sink], net: np.ndarray, batches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(level at each day's end (T, S), passed on each day (T, S)) under greedy draining."""
    into = batches @ inflow(sinks, net)
    drain = np.array([s.drain_kg_per_day for s in sinks])
    level, passed = np.zeros_like(into), np.zeros_like(into)
    held = np.zeros(len(sinks))
    for t in range(into.shape[0]):
        held, passed[t] = close_day(held, into[t], drain)
        level[t] = held
    return level, passed


class Room:
    """What each limited sink can still take today, as a policy runs whole or partial batches in turn."""

    def __init__(self, sinks: list[Sink], net: np.ndarray):
        self.sinks = sinks
        self.per_batch = inflow(sinks, net)
        self.capacity = np.array([s.capacity_kg if s.limited else np.inf for s in sinks])
        self.drain = np.array([s.drain_kg_per_day for s in sinks])
        self.level = np.zeros(len(sinks))
        self.today = np.zeros(len(sinks))

    def most(self, r: int) -> float:
        """Batches of recipe r the sinks still have room for today (inf when it feeds none that is limited)."""
        into = self.per_batch[r]
        feeds = (into > 0) & np.isfinite(self.capacity)
        if not feeds.any():
            return np.inf
        left = self.capacity[feeds] + self.drain[feeds] - self.level[feeds] - self.today[feeds] + FIT_SLACK_KG
        return float(max((left / into[feeds]).min(), 0.0))

    def fits(self, day: np.ndarray) -> bool:
        """Whether a day of batches (R,) leaves every limited sink within its capacity at the day's end."""
        into = self.today + day @ self.per_batch
        return bool((np.maximum(self.level + into, 0.0) - self.drain <= self.capacity + FIT_SLACK_KG).all())

    def run_day(self, day: np.ndarray) -> None:
        """Record a whole day of batches (R,) and close it."""
        self.today += day @ self.per_batch
        self.end_day()

    def add(self, r: int, n: float) -> None:
        """Record n batches of recipe r run today."""
        self.today += n * self.per_batch[r]

    def end_day(self) -> None:
        """Close the day: what came in, less what was passed on."""
        self.level, _ = close_day(self.level, self.today, self.drain)
        self.today[:] = 0.0
