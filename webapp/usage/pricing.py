"""What a simulation run costs in credits. Starting a run holds its estimate — a ceiling: twice the engine time a
scenario-day takes on the reference machine — and the run is charged what its engine actually spent (CPU-seconds,
its Monte Carlo pool's included), never more than the hold."""

from __future__ import annotations

import math
from decimal import Decimal

BASE_CREDITS = 1  # every run: its snapshot, queueing and results
CREDITS_PER_CPU_SECOND = 1
CEILING_CPU_SECONDS_PER_SCENARIO_DAY = Decimal("0.02")  # measured ~0.011 (habitat review: 3–4 s a 365-day scenario)


def scenario_days(config: dict) -> int:
    """Days simulated times scenarios (a plan is one scenario; a trade study plans the mission once more for each
    combination, a Pareto sweep twice for each point: both stages of the ε-constraint)."""
    plans = max(1, int(config.get("scenarios") or 1))
    sweep = config.get("sweep")
    if isinstance(sweep, list) and sweep:
        plans = 1 + math.prod(len(axis.get("values") or ()) for axis in sweep if isinstance(axis, dict))
    elif config.get("against"):
        plans = 1 + 2 * int(config.get("points") or 11)
    return int(config.get("time_horizon_days", 30)) * plans


def estimate(config: dict) -> int:
    """The credits a run's start holds."""
    cpu = Decimal(scenario_days(config)) * CEILING_CPU_SECONDS_PER_SCENARIO_DAY
    return BASE_CREDITS + math.ceil(cpu * CREDITS_PER_CPU_SECOND)


def actual(cpu_seconds: float) -> int:
    """The credits a finished run is charged for the engine time it took (the hold caps it)."""
    return BASE_CREDITS + math.ceil(Decimal(str(round(cpu_seconds, 3))) * CREDITS_PER_CPU_SECOND)
