"""Monte Carlo (habitat.md §3.5): N failure scenarios, each re-planned with perfect information, as percentile bands.

Scenarios are sampled up front from one seeded generator (so results do not depend on how the work is split) and
planned in chunks, on a small process pool when there are enough of them to pay for it.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from webapp.simulations.engine.errors import EngineError
from webapp.simulations.engine.failures import (
    REPAIR_CREW_FRACTION,
    available_hours,
    crew_after_repairs,
    execute_without_foresight,
    planned_use,
    sample_downtime,
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
POLL_SECONDS = 0.25  # how often the pool path checks for a cancel while chunks are out
_pool: ProcessPoolExecutor | None = None


def _workers() -> int:
    """Pool size: ENGINE_PROCESSES, else one per core (at most 8)."""
    return max(1, min(int(os.environ.get("ENGINE_PROCESSES", "0")) or (os.cpu_count() or 1), 8))


def _executor() -> ProcessPoolExecutor:
    """One pool per process, started on first use (spawned: the caller may run threads)."""
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(max_workers=_workers(), mp_context=multiprocessing.get_context("spawn"))
    return _pool


def _reset_pool(*, kill: bool = False) -> None:
    """Drop the pool; with `kill`, end its processes now (a cancelled run must not keep both cores busy)."""
    global _pool
    if _pool is not None:
        if kill:
            # ProcessPoolExecutor cannot interrupt a running task; its processes can be ended (private map)
            for process in list(getattr(_pool, "_processes", {}).values()):
                process.terminate()
        _pool.shutdown(wait=False, cancel_futures=True)
    _pool = None


def _chunk_size(scenarios: int) -> int:
    """About eight chunks per pool process, so progress moves in small steps, bounded to 5..25 scenarios."""
    return max(INLINE_CHUNK, min(MAX_CHUNK, scenarios // (_workers() * 8)))


def _timed_chunk(
    p: Problem,
    plan: str,
    tau: float,
    base: np.ndarray,
    downs: list,
    policy: str = PERFECT,
    crew_fraction: float = REPAIR_CREW_FRACTION,
    noise: tuple[float, int] = (0.0, 0),
) -> tuple[list[tuple], float]:
    """_plan_chunk in a pool process, with the CPU-seconds it took there (metered as engine time)."""
    start = time.process_time()
    rows = _plan_chunk(p, plan, tau, base, downs, policy, crew_fraction, noise)
    return rows, time.process_time() - start


def _plan_chunk(
    p: Problem,
    plan: str,
    tau: float,
    base: np.ndarray,
    downs: list[tuple],
    policy: str = PERFECT,
    crew_fraction: float = REPAIR_CREW_FRACTION,
    noise: tuple[float, int] = (0.0, 0),
) -> list[tuple]:
    """Plan a list of scenarios (downtime, repairs as sample_downtime lists them or None, number[, hours under
    repair when some failures were malfunctions]; `noise` = (coefficient of variation of daily waste, seed) varies
    what arrives, engine/generation.py); returns per scenario (kpis, cumulative target per day, stored waste per
    day, whether failures changed the plan, kpis of the plan carried on without re-planning)."""
    from webapp.simulations.engine import (
        planner,  # the pool's processes import the engine lazily
    )

    rolling = RollingHorizon(p, plan, tau) if policy == ROLLING else None
    solve = planner(p, plan, tau, base=base) if rolling is None else None
    used = planned_use(p, base)
    base_crew = base @ p.crew_h
    target, waste = p.index(p.target), p.mask("waste")
    out = []
    for down, repairs, number, *repairing in downs:
        # spares go by the scenario's own repairs (outages and malfunctions alike); unknown, by the expected number
        fixes = None if repairs is None else np.bincount([r[0] for r in repairs], minlength=len(p.module_keys))
        hours = available_hours(p, down)
        crew = crew_after_repairs(p, repairing[0] if repairing else down, used, crew_fraction)
        arrivals = sample_arrivals(p, noise[0], noise[1], number)
        scenario = p if arrivals is None else dataclasses.replace(p, arrivals=arrivals)
        # the failure-free plan still fits and the waste came as planned: it stays optimal (the feasible set only
        # shrank), no solve needed
        fits = arrivals is None and (used <= hours + 1e-9).all() and (base_crew <= crew + 1e-9).all()
        if rolling is not None:  # a crew without foresight re-plans on what it has seen, failures or not
            batches = rolling.run(hours, crew, repairs, arrivals)
        else:
            batches = base if fits else solve(hours, crew, elastic=True, arrivals=arrivals)
        f = flows(scenario, batches)
        carried = base if fits else execute_without_foresight(scenario, base, hours, crew)
        out.append(
            (
                kpis(scenario, batches, f, fixes) | _held(scenario, f),
                np.cumsum(f["produced"][:, target] - f["consumed"][:, target]),
                f["stock"][:, waste].sum(axis=1),
                not fits,
                kpis(scenario, carried, repairs=fixes) | _held(scenario, flows(scenario, carried)),
            )
        )
    return out


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
) -> dict:
    """Sample, plan and summarise `scenarios` failure scenarios under a re-planning policy; `degraded_share` of the
    failures are malfunctions (the module runs on at a reduced rate until repaired, engine/failures.py)."""
    if policy not in POLICIES:
        raise EngineError(f"The Monte Carlo policy is one of {', '.join(POLICIES)}.", "policy")
    if policy == ROLLING:
        RollingHorizon(p, plan, tau)  # refuses what it cannot plan before any scenario is sampled
    rng = np.random.default_rng(seed)
    use = planned_use(p, base)  # modules wear while the failure-free plan runs them
    downs = []
    events = {"outages": 0, "malfunctions": 0}
    for number in range(scenarios):
        repairs: list = []
        if degraded_share > 0.0:
            repairing = np.zeros((len(p.module_keys), p.days))
            down = sample_downtime(p, rng, use, failure_shape, repairs, degraded_share, repairing)
            downs.append((down, repairs, number, repairing))
        else:
            down = sample_downtime(p, rng, use, failure_shape, repairs)
            downs.append((down, repairs, number))
        malfunctions = sum(1 for *_, factor in repairs if factor > 0.0)
        events["malfunctions"] += malfunctions
        events["outages"] += len(repairs) - malfunctions
    noise = (generation_cv, seed)
    report = progress or (lambda fraction: None)
    size = INLINE_CHUNK if scenarios < PARALLEL_FROM else _chunk_size(scenarios)
    # the main scenarios, then the crew-fraction sensitivity: the first few of the same draws again with repairs
    # taking none, a quarter, three quarters or all of their hours in crew time (the fraction is an estimate)
    sample = downs[: min(scenarios, max(SENSITIVITY_MIN, scenarios // SENSITIVITY_SHARE))]
    jobs = [(downs[i : i + size], REPAIR_CREW_FRACTION) for i in range(0, scenarios, size)]
    main_jobs = len(jobs)
    for fraction in SENSITIVITY_FRACTIONS:
        jobs += [(sample[i : i + size], fraction) for i in range(0, len(sample), size)]
    total = scenarios + len(sample) * len(SENSITIVITY_FRACTIONS)
    done: dict[int, list[tuple]] = {}
    pool_cpu = 0.0  # CPU-seconds spent in the pool's processes (the calling thread's own is its caller's to count)
    if scenarios < PARALLEL_FROM:
        for i, (chunk, fraction) in enumerate(jobs):
            done[i] = _plan_chunk(p, plan, tau, base, chunk, policy, fraction, noise)
            report(sum(map(len, done.values())) / total)
    else:
        pool = _executor()
        futures = {
            pool.submit(_timed_chunk, p, plan, tau, base, chunk, policy, fraction, noise): i
            for i, (chunk, fraction) in enumerate(jobs)
        }
        pending = set(futures)
        try:
            while pending:
                finished, pending = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                for future in finished:
                    done[futures[future]], cpu = future.result()
                    pool_cpu += cpu
                # every poll, not only when a chunk lands: the callback is where a cancel is noticed
                report(sum(map(len, done.values())) / total)
        except BrokenProcessPool:
            _reset_pool()  # a pool that lost a process stays broken: the next run starts a new one
            raise
        except BaseException:
            _reset_pool(kill=bool(pending))  # cancelled (or failing): stop the chunks still being planned
            raise
        finally:
            for future in futures:
                future.cancel()
    rows = [row for i in range(main_jobs) for row in done[i]]
    by_fraction = {REPAIR_CREW_FRACTION: [r[0] for r in rows[: len(sample)]]}
    for i in range(main_jobs, len(jobs)):
        by_fraction.setdefault(jobs[i][1], []).extend(r[0] for r in done[i])
    results = [r[0] for r in rows]
    cumulative_target = np.array([r[1] for r in rows])
    stored_waste = np.array([r[2] for r in rows])
    lost_hours = sum((p.hours - available_hours(p, d)).sum(axis=1) for d, *_ in downs)
    summary, fixed = _bands(results), [r[4] for r in rows]
    return {
        "scenarios": scenarios,
        "seed": seed,
        "failure_shape": failure_shape,
        "policy": policy,
        "generation_cv": generation_cv,
        "degraded_share": degraded_share,
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
