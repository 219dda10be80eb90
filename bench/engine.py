"""Engine benchmark on the reference catalog, 4 crew (issue 5 targets): 30-day optimisation ≤ 50 ms, 365-day ≤ 1 s,
1,000-scenario Monte Carlo ≤ 10 s. Baselines measured in the same run: the fixed policy on the same horizon, and
the 365-day LP with every day its own block (what the week blocks save). Also (issue 24): whole-batch plans, their
time and their distance to the fractional optimum."""

from __future__ import annotations

import argparse
import statistics
import time

from webapp.simulations.engine import EngineError, simulate, study
from webapp.simulations.engine.lp import PlanningLP
from webapp.simulations.engine.model import build_problem
from webapp.simulations.engine.report import kpis
from webapp.simulations.snapshot import reference_snapshot


def _time(fn, repeat: int) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), result


def main() -> None:
    """Print each figure, its target and its ratio to the same-run baseline."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenarios", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    snapshot = reference_snapshot(crew_size=4)
    simulate(snapshot, "throughput_optimization", {"time_horizon_days": 30})  # warm imports and HiGHS

    rows = []
    for days, target in ((30, 0.050), (365, 1.0)):
        config = {"target": "brick", "time_horizon_days": days}
        seconds, result = _time(lambda c=config: simulate(snapshot, "throughput_optimization", c), args.repeat)
        policy, _ = _time(lambda c=config: simulate(snapshot, "mass_balance", c), args.repeat)
        rows.append(
            (
                f"{days}-day optimisation",
                seconds,
                target,
                f"{result['kpis']['target_kg']:.1f} kg brick",
                f"fixed policy {policy * 1000:.0f} ms",
            )
        )
    problem = build_problem(snapshot, {"time_horizon_days": 365})
    daily, batches = _time(lambda: PlanningLP(problem, daily=True).solve("throughput_optimization"), 1)
    blocked, blocked_batches = _time(lambda: PlanningLP(problem).solve("throughput_optimization"), 1)
    gap = kpis(problem, batches)["target_kg"] - kpis(problem, blocked_batches)["target_kg"]
    rows.append(
        (
            "365-day LP, week blocks vs daily",
            blocked,
            None,
            f"daily {daily:.2f} s, ratio {blocked / daily:.2f}",
            f"optimum lost to blocks {gap:.4f} kg",
        )
    )
    for days in (30, 365):  # whole batches: the MILP (30 days) and the rounded, repaired LP (365 days)
        config = {"target": "brick", "time_horizon_days": days, "whole_batches": True}
        seconds, result = _time(lambda c=config: simulate(snapshot, "throughput_optimization", c), 1)
        integer = result["integer"]
        rows.append(
            (
                f"{days}-day plan of whole batches ({integer['method']})",
                seconds,
                None,
                f"{integer['value']:.1f} kg brick vs {integer['lp_bound']:.1f} fractional "
                f"({(1 - integer['value'] / integer['lp_bound']) * 100:.1f} % below)",
                f"reported gap {integer['gap'] * 100:.2f} %",
            )
        )
    config = {"target": "brick", "time_horizon_days": 30, "scenarios": args.scenarios, "seed": 1}
    simulate(snapshot, "monte_carlo", dict(config, scenarios=120))  # start the process pool
    seconds, result = _time(lambda: simulate(snapshot, "monte_carlo", config), 1)
    mc = result["monte_carlo"]
    rows.append(
        (
            f"{args.scenarios}-scenario Monte Carlo (30 days)",
            seconds,
            10.0,
            f"P10/P50/P90 {mc['kpis']['target_kg']['p10']:.0f}/{mc['kpis']['target_kg']['p50']:.0f}/"
            f"{mc['kpis']['target_kg']['p90']:.0f} kg",
            f"{mc['replanned']} re-planned",
        )
    )
    # the forecast policy over a year: a re-plan of a 28-day window on every failure, repair and week
    config = {"target": "brick", "time_horizon_days": 365, "scenarios": args.scenarios, "seed": 1,
              "policy": "rolling_horizon"}  # fmt: skip
    started_cpu = time.process_time()
    seconds, result = _time(lambda: simulate(snapshot, "monte_carlo", config), 1)
    mc = result["monte_carlo"]
    cpu = time.process_time() - started_cpu + mc["pool_cpu_seconds"]
    plan_cpu, _ = _time(lambda: simulate(snapshot, "throughput_optimization", {"time_horizon_days": 365}), 3)
    rows.append(
        (
            f"{args.scenarios} x 365-day rolling horizon",
            seconds,
            120.0,
            f"P10/P50/P90 {mc['kpis']['target_kg']['p10']:.0f}/{mc['kpis']['target_kg']['p50']:.0f}/"
            f"{mc['kpis']['target_kg']['p90']:.0f} kg, limits held {mc['probability_limits_held']:.0%}",
            f"CPU {cpu / args.scenarios * 1000:.0f} ms per scenario = {cpu / args.scenarios / plan_cpu:.2f}x the "
            f"365-day plan ({plan_cpu * 1000:.0f} ms)",
        )
    )
    # engine 1.8: the forecast under the lunar night with the named sinks limited (a tenth of the scenarios), CPU
    # per scenario against the plan of the same year under the same settings
    lunar = {"target": "brick", "time_horizon_days": 365, "power_profile": "lunar", "battery_kwh": 200.0,
             "peak_kw": 3.0}  # fmt: skip
    tanks = reference_snapshot(crew_size=4, water_recovery_capacity_kg=20.0, water_recovery_drain_kg_per_day=3.0,
                               propellant_capacity_kg=100.0)  # fmt: skip
    count = max(args.scenarios // 10, 20)
    config = dict(lunar, scenarios=count, seed=1, policy="rolling_horizon")
    started_cpu = time.process_time()
    seconds, result = _time(lambda: simulate(tanks, "monte_carlo", config), 1)
    mc = result["monte_carlo"]
    cpu = time.process_time() - started_cpu + mc["pool_cpu_seconds"]
    plan_cpu, _ = _time(lambda: simulate(tanks, "throughput_optimization", lunar), 3)
    rows.append(
        (
            f"{count} x 365-day rolling horizon, lunar night + sinks",
            seconds,
            None,
            f"P50 {mc['kpis']['target_kg']['p50']:.0f} kg, sinks held "
            f"{min(mc['probability_held'][k] for k in ('water_recovery', 'propellant')):.0%}",
            f"CPU {cpu / count * 1000:.0f} ms per scenario = {cpu / count / plan_cpu:.2f}x the same plan "
            f"({plan_cpu * 1000:.0f} ms)",
        )
    )
    # a 25-point trade study of 30-day plans (energy × crew), against 25 single plans made one by one in this run
    sweep = [{"parameter": "energy_budget_kwh_per_day", "values": [20, 40, 60, 80, 100]},
             {"parameter": "crew_size", "values": [2, 4, 6, 8, 10]}]  # fmt: skip
    config = {"target": "brick", "time_horizon_days": 30, "sweep": sweep}
    seconds, result = _time(lambda: simulate(snapshot, "trade_study", config), args.repeat)
    points = result["trade_study"]["points"]

    def singles():
        for energy in sweep[0]["values"]:
            for crew in sweep[1]["values"]:
                changed = reference_snapshot(crew_size=crew)
                changed["mission"]["energy_budget_kwh_per_day"] = energy
                try:  # a plan whose limits cannot hold is refused after the same least-excess solve a study makes
                    simulate(changed, "throughput_optimization", {"time_horizon_days": 30})
                except EngineError:
                    pass

    one_by_one, _ = _time(singles, args.repeat)
    held = sum(not p.get("warnings") and "error" not in p for p in points)
    rows.append(
        (
            "25-point trade study, 30-day plans",
            seconds,
            None,
            f"{len(points)} plans, limits held in {held}; brick {min(p['kpis']['target_kg'] for p in points):.0f}–"
            f"{max(p['kpis']['target_kg'] for p in points):.0f} kg",
            f"25 single runs {one_by_one:.3f} s, ratio {seconds / one_by_one:.2f}",
        )
    )
    # a study large enough for the process pool (12 × 365-day plans), against the same points planned inline
    sweep = [{"parameter": "energy_budget_kwh_per_day", "values": list(range(10, 121, 10))}]
    config = {"target": "brick", "time_horizon_days": 365, "sweep": sweep}
    seconds, result = _time(lambda: simulate(snapshot, "trade_study", config), 1)
    axes = result["trade_study"]["axes"]
    inline, points = _time(
        lambda: study.plan_points(
            snapshot, config, "throughput_optimization", 0.0, axes, [(v,) for v in sweep[0]["values"]]
        ),
        1,
    )
    assert points == result["trade_study"]["points"]
    rows.append(
        (
            "12-point trade study, 365-day plans, on the pool",
            seconds,
            None,
            f"pool CPU {result['trade_study']['pool_cpu_seconds']:.2f} s",
            f"inline {inline:.2f} s, ratio {seconds / inline:.2f}",
        )
    )
    for against in ("waste_processed", "energy"):
        config = {"target": "brick", "time_horizon_days": 30, "against": against, "points": 25}
        seconds, result = _time(lambda c=config: simulate(snapshot, "pareto_sweep", c), args.repeat)
        front = result["pareto"]["points"]
        key = result["pareto"]["x_key"]
        rows.append(
            (
                f"25-point Pareto sweep against {against.replace('_', ' ')}",
                seconds,
                None,
                f"{front[0]['kpis'][key]:.0f}–{front[-1]['kpis'][key]:.0f} {'kg' if 'kg' in key else 'kWh'}, brick "
                f"{front[0]['kpis']['target_kg']:.0f}–{front[-1]['kpis']['target_kg']:.0f} kg",
                "two warm-started LP stages per point",
            )
        )
    print(f"{'figure':45} {'seconds':>9} {'target':>8}  result")
    for name, seconds, target, result_text, note in rows:
        verdict = "" if target is None else ("ok" if seconds <= target else "MISSED")
        limit = f"{target:.3f}" if target else ""
        print(f"{name:45} {seconds:9.3f} {limit:>8} {verdict:6} {result_text}; {note}")


if __name__ == "__main__":
    main()
