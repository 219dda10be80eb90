"""Monte Carlo (habitat.md §3.5): N failure scenarios under a re-planning policy, as percentile bands.

Each scenario's failures come from its own streams (the run's seed, the scenario, each module: engine/failures.py),
so results do not depend on how the work is split, and every policy meets the same failures at the operating hours
it reaches them. Scenarios are planned in chunks, on a small process pool when there are enough of them to pay for
it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from webapp.simulations.engine import pool
from webapp.simulations.engine.errors import EngineError
from webapp.simulations.engine.failures import (
    REPAIR_CREW_FRACTION,
    FailureClock,
    execute_without_foresight,
    module_streams,
    planned_use,
)
from webapp.simulations.engine.generation import sample_arrivals
from webapp.simulations.engine.model import Problem
from webapp.simulations.engine.report import flows, kpis, limits_held
from webapp.simulations.engine.rolling import RollingHorizon

PERFECT = "perfect_information"  # each scenario re-planned knowing its failures in advance: an upper bound
ROLLING = "rolling_horizon"  # re-planned only on what has been seen (engine/rolling.py): a forecast
POLICIES = (PERFECT, ROLLING)
SENSITIVITY_FRACTIONS = (0.0, 0.25, 0.75, 1.0)  # beside the estimate (failures.REPAIR_CREW_FRACTION)
SENSITIVITY_SHARE = 20  # the sensitivity re-runs one scenario in 20 per fraction: a fifth more work in all
SENSITIVITY_MIN = 5

PERCENTILES = (10, 50, 90)
BAND_KPIS = (
    "target_kg",
    "recycling_rate",
    "waste_stored_kg",
    "energy_kwh",
    "waste_processed_kg",
    "water_recovered_kg",
    "useful_recovery_rate",
    "waste_derived_share",
    "kwh_per_kg",
    "logistics_kg",
)
MAX_CHUNK = 25
INLINE_CHUNK = 5  # inline scenarios report progress (and notice a cancel) every few re-plans
PARALLEL_FROM = 100  # fewer scenarios than this run inline: a pool's start-up would cost more than it saves


def _chunk_size(scenarios: int) -> int:
    """About eight chunks per pool process, so progress moves in small steps, bounded to 5..25 scenarios."""
    return max(INLINE_CHUNK, min(MAX_CHUNK, scenarios // (pool.workers() * 8)))


def _plan_chunk(
    p: Problem,
    plan: str,
    tau: float,
    base: np.ndarray,
    numbers: list[int],
    policy: str = PERFECT,
    crew_fraction: float = REPAIR_CREW_FRACTION,
    noise: tuple[float, int, bool] = (0.0, 0, False),
    draws: tuple[int, float, float, int | None] = (0, 1.0, 0.0, None),
) -> list[tuple]:
    """Plan the scenarios `numbers`: each module's failures from its own stream (`draws` = (seed, Weibull shape,
    share of failures that are malfunctions, spares carried per module), engine/failures.py), met at the hours each
    policy runs; `noise` =
    (coefficient of variation of daily waste, seed, EVA days at random) varies what arrives
    (engine/generation.py). Returns per scenario (kpis, cumulative target per day, stored waste per day, whether
    failures changed the plan, kpis of the plan carried on without re-planning, (outages, malfunctions, hours lost
    per module, modules stranded without a spare))."""
    from webapp.simulations.engine import (
        planner,  # the pool's processes import the engine lazily
    )

    seed, shape, degraded, spares = draws
    rolling = RollingHorizon(p, plan, tau) if policy == ROLLING else None
    solve = planner(p, plan, tau, base=base) if rolling is None else None
    used = planned_use(p, base)
    base_crew = base @ p.crew_h
    target, waste = p.index(p.target), p.mask("waste")
    K = len(p.module_keys)

    def clock(scenario: Problem, number: int) -> FailureClock:
        streams = module_streams(seed, number, K)  # the same failures for every policy, each at its own hours
        return FailureClock(scenario, streams, shape, degraded, used, crew_fraction, spares)

    out = []
    for number in numbers:
        arrivals = sample_arrivals(p, *noise[:2], number, *noise[2:])
        scenario = p if arrivals is None else dataclasses.replace(p, arrivals=arrivals)
        met = clock(scenario, number)
        if rolling is not None:  # a crew without foresight re-plans on what it has seen, failures or not
            batches = rolling.run(met, arrivals)
        else:  # perfect information: the failures the failure-free plan's running meets, known in advance
            met.follow(used)
        hours, crew = met.available()
        # the failure-free plan still fits and the waste came as planned: it stays optimal (the feasible set only
        # shrank), no solve needed — and carried on, it runs as planned and meets the very same failures
        fits = arrivals is None and (used <= hours + 1e-9).all() and (base_crew <= crew + 1e-9).all()
        if rolling is None:
            batches = base if fits else solve(hours, crew, elastic=True, arrivals=arrivals)
        carried_clock = met if fits and rolling is None else clock(scenario, number)
        carried = base if carried_clock is met else execute_without_foresight(scenario, base, carried_clock)
        f = flows(scenario, batches)
        malfunctions = sum(1 for *_, factor in met.repairs if factor > 0.0)
        out.append(
            (
                kpis(scenario, batches, f, _fixes(met, K)) | _held(scenario, f),
                np.cumsum(f["produced"][:, target] - f["consumed"][:, target]),
                f["stock"][:, waste].sum(axis=1),
                not fits,
                kpis(scenario, carried, repairs=_fixes(carried_clock, K)) | _held(scenario, flows(scenario, carried)),
                (len(met.repairs) - malfunctions, malfunctions, (p.hours - hours).sum(axis=1), len(met.stranded)),
            )
        )
    return out


def _fixes(failures: FailureClock, modules: int) -> np.ndarray:
    """Repairs per module in one scenario: the spares it used (outages and malfunctions alike)."""
    return np.bincount([r[0] for r in failures.repairs], minlength=modules)


def _held(p: Problem, f: dict) -> dict:
    """Each stock limit held (or not) in one scenario, and all of them together."""
    held = limits_held(p, f)
    return {"limits_held": all(held.values()), "held": held}


def _probabilities(results: list[dict]) -> dict[str, float]:
    """Per stock limit, the share of scenarios in which it held every day."""
    return {name: round(float(np.mean([r["held"][name] for r in results])), 4) for name in results[0]["held"]}


def _bands(results: list[dict]) -> dict:
    """P10/P50/P90 and mean of each banded KPI over the scenarios."""
    summary = {}
    for key in BAND_KPIS:
        values = np.array([r[key] for r in results])
        summary[key] = {f"p{q}": round(float(np.percentile(values, q)), 4) for q in PERCENTILES}
        summary[key]["mean"] = round(float(values.mean()), 4)
    return summary


def run_monte_carlo(
    p: Problem,
    plan: str,
    tau: float,
    base: np.ndarray,
    scenarios: int,
    seed: int,
    progress: Callable[[float], None] | None = None,
    failure_shape: float = 1.0,
    policy: str = PERFECT,
    generation_cv: float = 0.0,
    degraded_share: float = 0.0,
    eva_random: bool = False,
    spares: int | None = None,
) -> dict:
    """Sample, plan and summarise `scenarios` failure scenarios under a re-planning policy; `degraded_share` of the
    failures are malfunctions (the module runs on at a reduced rate until repaired, engine/failures.py); `spares`
    repairs' worth of spare parts are carried per module (None: as many as needed)."""
    if policy not in POLICIES:
        raise EngineError(f"The Monte Carlo policy is one of {', '.join(POLICIES)}.", "policy")
    if policy == ROLLING:
        RollingHorizon(p, plan, tau)  # refuses what it cannot plan before any scenario is sampled
    noise = (generation_cv, seed, eva_random)
    report = progress or (lambda fraction: None)
    size = INLINE_CHUNK if scenarios < PARALLEL_FROM else _chunk_size(scenarios)
    # the main scenarios, then the crew-fraction sensitivity: the first few of the same draws again with repairs
    # taking none, a quarter, three quarters or all of their hours in crew time (the fraction is an estimate)
    draws = (seed, failure_shape, degraded_share, spares)
    numbers = list(range(scenarios))
    sample = numbers[: min(scenarios, max(SENSITIVITY_MIN, scenarios // SENSITIVITY_SHARE))]
    jobs = [(numbers[i : i + size], REPAIR_CREW_FRACTION) for i in range(0, scenarios, size)]
    main_jobs = len(jobs)
    for fraction in SENSITIVITY_FRACTIONS:
        jobs += [(sample[i : i + size], fraction) for i in range(0, len(sample), size)]
    total = scenarios + len(sample) * len(SENSITIVITY_FRACTIONS)
    done: dict[int, list[tuple]] = {}
    pool_cpu = 0.0  # CPU-seconds spent in the pool's processes (the calling thread's own is its caller's to count)
    if scenarios < PARALLEL_FROM:
        for i, (chunk, fraction) in enumerate(jobs):
            done[i] = _plan_chunk(p, plan, tau, base, chunk, policy, fraction, noise, draws)
            report(sum(map(len, done.values())) / total)
    else:
        calls = [(_plan_chunk, (p, plan, tau, base, chunk, policy, fraction, noise, draws)) for chunk, fraction in jobs]
        done, pool_cpu = pool.run_pooled(calls, lambda landed: report(sum(map(len, landed.values())) / total))
    rows = [row for i in range(main_jobs) for row in done[i]]
    by_fraction = {REPAIR_CREW_FRACTION: [r[0] for r in rows[: len(sample)]]}
    for i in range(main_jobs, len(jobs)):
        by_fraction.setdefault(jobs[i][1], []).extend(r[0] for r in done[i])
    results = [r[0] for r in rows]
    cumulative_target = np.array([r[1] for r in rows])
    stored_waste = np.array([r[2] for r in rows])
    lost_hours = sum(r[5][2] for r in rows)
    events = {"outages": sum(r[5][0] for r in rows), "malfunctions": sum(r[5][1] for r in rows)}
    if spares is not None:  # a failure with no spare left strands its module for the rest of the horizon
        events["stranded"] = sum(r[5][3] for r in rows)
    summary, fixed = _bands(results), [r[4] for r in rows]
    return {
        "scenarios": scenarios,
        "seed": seed,
        "failure_shape": failure_shape,
        "policy": policy,
        "generation_cv": generation_cv,
        "degraded_share": degraded_share,
        "eva_random": bool(eva_random and p.eva_schedule),
        **(
            {
                "spares_per_module": spares,
                "probability_spares_lasted": round(float(np.mean([not r[5][3] for r in rows])), 4),
            }
            if spares is not None
            else {}
        ),
        # failures per scenario on average: outages stop a module, malfunctions slow it until repaired
        "failures_per_scenario": {name: round(n / scenarios, 3) for name, n in events.items()},
        "pool_cpu_seconds": round(pool_cpu, 3),
        "replanned": sum(1 for r in rows if r[3]),
        "kpis": summary,
        # the same failures met by the failure-free plan carried out without re-planning (no foresight): the
        # forecast a crew that only reacts can count on; `kpis` above re-plans knowing each scenario (an upper bound)
        "without_foresight": {
            "kpis": _bands(fixed),
            "probability_recycling_target": round(float(np.mean([r["recycling_target_met"] for r in fixed])), 4),
            "probability_limits_held": round(float(np.mean([r["limits_held"] for r in fixed])), 4),
            "probability_held": _probabilities(fixed),
        },
        "probability_recycling_target": round(float(np.mean([r["recycling_target_met"] for r in results])), 4),
        "probability_limits_held": round(float(np.mean([r["limits_held"] for r in results])), 4),
        "probability_held": _probabilities(results),
        "crew_fraction_sensitivity": {
            "scenarios": len(sample),
            "estimate": REPAIR_CREW_FRACTION,
            "points": [
                {
                    "fraction": fraction,
                    **{
                        f"p{q}": round(float(np.percentile([r["target_kg"] for r in found], q)), 4) for q in PERCENTILES
                    },
                    "probability_limits_held": round(float(np.mean([r["limits_held"] for r in found])), 4),
                }
                for fraction, found in sorted(by_fraction.items())
            ],
        },
        "max_mass_balance_residual_kg": max(r["mass_balance_residual_kg"] for r in results),
        "bands": {
            "target_cumulative": {
                f"p{q}": [round(float(v), 4) for v in np.percentile(cumulative_target, q, axis=0)] for q in PERCENTILES
            },
            "waste_stored": {
                f"p{q}": [round(float(v), 4) for v in np.percentile(stored_waste, q, axis=0)] for q in PERCENTILES
            },
        },
        "mean_hours_lost": {key: round(float(lost_hours[k] / scenarios), 3) for k, key in enumerate(p.module_keys)},
    }
