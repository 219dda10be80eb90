"""Named sinks: the water, gases and propellant recipes make go to water recovery, the air system or propellant
storage, each holding at most its capacity and passing on at most its intake a day. Every planner — the LP, whole
batches (rounded and MILP), the fixed policy, the rolling horizon — keeps each sink within its capacity, checked here
by replaying the plan against the sinks apart from the planner."""

from __future__ import annotations

import numpy as np
import pytest

from webapp.simulations.engine import EngineError, simulate
from webapp.simulations.engine.model import build_problem
from webapp.simulations.engine.sinks import Sink, levels
from webapp.simulations.snapshot import reference_snapshot

TIGHT = {"water_recovery_capacity_kg": 4.0, "water_recovery_drain_kg_per_day": 1.0, "propellant_capacity_kg": 1.2}


def _replayed_levels(snapshot: dict, config: dict, result: dict) -> dict[str, np.ndarray]:
    """Each sink's level day by day, recomputed from the result's batches per recipe (not the engine's series)."""
    p = build_problem(snapshot, config)
    parents = list(dict.fromkeys(p.recipe_parents))
    batches = np.array([result["batches"][key] for key in parents]).T  # (T, catalog recipes)
    first_row = [p.recipe_parents.index(key) for key in parents]  # a blend's mixes share their outputs per batch
    into = batches @ np.stack([p.outputs[first_row] @ s.takes for s in p.sinks], axis=1)
    out, held = {}, np.zeros(len(p.sinks))
    series = np.zeros_like(into)
    for t in range(into.shape[0]):
        held = np.maximum(held + into[t] - [s.drain_kg_per_day for s in p.sinks], 0.0)
        series[t] = held
    for n, sink in enumerate(p.sinks):
        out[sink.key] = series[:, n]
    return out


def test_a_sink_drains_greedily_and_never_below_empty():
    takes = np.array([1.0, 0.0])
    sink = Sink("water_recovery", "Water recovery", takes, 5.0, 2.0)
    net = np.array([[3.0, -3.0]])  # one recipe: 3 kg of water a batch
    level, passed = levels([sink], net, np.array([[1.0], [1.0], [0.0], [0.0], [2.0]]))
    assert level[:, 0].tolist() == [1.0, 2.0, 0.0, 0.0, 4.0]
    assert passed[:, 0].tolist() == [2.0, 2.0, 2.0, 0.0, 2.0]


@pytest.mark.parametrize(
    "run_type,extra",
    [
        ("waste_minimization", {}),
        ("throughput_optimization", {}),
        ("mass_balance", {}),
        ("waste_minimization", {"whole_batches": True}),  # 60 days: the LP rounded and repaired
    ],
)
def test_every_planner_keeps_each_sink_within_its_capacity(run_type, extra):
    snapshot = reference_snapshot(wet_waste_cap_days=None, **TIGHT)
    config = {"time_horizon_days": 60, **extra}
    free = simulate(reference_snapshot(wet_waste_cap_days=None), run_type, config)
    result = simulate(snapshot, run_type, config)
    replayed = _replayed_levels(snapshot, config, result)
    sinks = {s["key"]: s for s in result["sinks"]}
    assert set(sinks) == {"water_recovery", "propellant"}  # no recipe here makes oxygen or CO2
    for key, series in replayed.items():
        assert series.max() <= sinks[key]["capacity_kg"] + 1e-6, key
        assert np.allclose(series, sinks[key]["level"], atol=1e-3)
    water = sinks["water_recovery"]
    assert water["passed_on_kg"] <= 60 * 1.0 + 1e-6 and water["received_kg"] == pytest.approx(
        result["totals"]["water"], abs=1e-3
    )
    assert result["totals"].get("methane", 0) <= 1.2 + 1e-6
    if run_type != "throughput_optimization":  # bricks need no reformer: maximising them makes no methane anyway
        # the tight tanks bind: less methane made, and less waste processed, than with room for all of it
        assert free["totals"]["methane"] > 1.2
        assert result["kpis"]["waste_processed_kg"] < free["kpis"]["waste_processed_kg"]
    assert not [w for w in result["warnings"] if "holds more" in w]


def test_the_exact_whole_batch_plan_keeps_the_sinks_too():
    snapshot = reference_snapshot(wet_waste_cap_days=None, **TIGHT)
    config = {"time_horizon_days": 10, "whole_batches": True}
    result = simulate(snapshot, "waste_minimization", config)
    assert result["integer"]["method"] == "milp"
    for key, series in _replayed_levels(snapshot, config, result).items():
        capacity = {s["key"]: s["capacity_kg"] for s in result["sinks"]}[key]
        assert series.max() <= capacity + 1e-6


def test_more_room_or_intake_never_plans_less_and_unlimited_sinks_change_nothing():
    config = {"time_horizon_days": 45}
    base = simulate(reference_snapshot(wet_waste_cap_days=None), "waste_minimization", config)
    unlimited = simulate(
        reference_snapshot(wet_waste_cap_days=None, water_recovery_drain_kg_per_day=1.0), "waste_minimization", config
    )
    assert unlimited["kpis"]["waste_processed_kg"] == pytest.approx(base["kpis"]["waste_processed_kg"], rel=1e-9)
    processed = [
        simulate(
            reference_snapshot(
                wet_waste_cap_days=None, water_recovery_capacity_kg=capacity, water_recovery_drain_kg_per_day=0.5
            ),  # fmt: skip
            "waste_minimization",
            config,
        )["kpis"]["waste_processed_kg"]
        for capacity in (2.0, 8.0, 30.0)
    ]
    assert processed[0] < processed[1] < processed[2] <= base["kpis"]["waste_processed_kg"] + 1e-6


def test_a_full_sink_is_named_when_it_keeps_a_limit_from_holding():
    snapshot = reference_snapshot(propellant_capacity_kg=0.5)  # the reformer fills it, then feces pile up
    with pytest.raises(EngineError) as refused:
        simulate(snapshot, "waste_minimization", {"time_horizon_days": 60})
    assert refused.value.constraint == "wet_waste_cap"
    assert "Propellant storage is full" in str(refused.value)


@pytest.mark.parametrize("policy", ["perfect_information", "rolling_horizon"])
def test_monte_carlo_scenarios_keep_the_sinks_and_say_how_often_they_held(policy):
    snapshot = reference_snapshot(wet_waste_cap_days=None, **TIGHT)
    config = {"time_horizon_days": 40, "scenarios": 8, "seed": 3, "policy": policy, "crew_fraction": 0.5}
    result = simulate(snapshot, "monte_carlo", config)
    held = result["monte_carlo"]["probability_held"]
    assert held["water_recovery"] == 1.0 and held["propellant"] == 1.0  # every policy plans within the tanks
    without = result["monte_carlo"].get("without_foresight")
    if without:  # the plan carried on never makes more than planned, so its sinks hold too
        assert without["probability_held"]["water_recovery"] == 1.0


def test_runs_snapshotted_before_sinks_plan_as_before():
    snapshot = reference_snapshot(**TIGHT)
    del snapshot["sinks"]
    assert build_problem(snapshot, {"time_horizon_days": 10}).sinks == []
    assert simulate(snapshot, "mass_balance", {"time_horizon_days": 10})["sinks"] == []


def test_the_problem_names_each_limited_sink_in_its_notes():
    problem = build_problem(reference_snapshot(**TIGHT), {"time_horizon_days": 10})
    assert "Water recovery takes the water: it holds 4 kg, passing on 1 kg a day." in problem.notes
    assert "Propellant storage takes the methane: it holds 1.2 kg, passing nothing on (it only fills)." in problem.notes


def test_a_trade_study_sweeps_a_sinks_capacity():
    snapshot = reference_snapshot(wet_waste_cap_days=None, water_recovery_drain_kg_per_day=0.5)
    sweep = [{"parameter": "water_recovery_capacity_kg", "values": [1, 6, 40]}]
    study = simulate(snapshot, "trade_study", {"time_horizon_days": 30, "sweep": sweep, "plan": "waste_minimization"})
    processed = [point["kpis"]["waste_processed_kg"] for point in study["trade_study"]["points"]]
    assert processed[0] < processed[1] < processed[2]  # a bigger water bus lets the reformer process more
    assert study["trade_study"]["axes"][0]["label"] == "Water recovery capacity"
