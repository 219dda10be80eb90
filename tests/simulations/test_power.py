"""Power in the plan: per-module draw, the peak-kW limit at every instant, the lunar night on storage."""

from __future__ import annotations

import numpy as np
import pytest

from webapp.simulations.engine import EngineError, simulate
from webapp.simulations.engine.lp import PlanningLP
from webapp.simulations.engine.model import build_problem
from webapp.simulations.engine.power import LIGHT_H, SYNODIC_H, configurations, hourly_kw, lit_interval, schedule
from webapp.simulations.snapshot import reference_snapshot

LUNAR = {"power_profile": "lunar", "battery_kwh": 200.0, "peak_kw": 3.0}


def _plan(config: dict, days: int = 45, objective: str = "throughput_optimization"):
    snapshot = reference_snapshot(crew_size=4)
    problem = build_problem(snapshot, {"time_horizon_days": days, **config})
    lp = PlanningLP(problem)
    batches = lp.solve(objective)
    return problem, batches, lp.power_plan()


def test_the_lunar_cycle_is_354_hours_of_light_then_354_of_dark():
    lit = np.array([lit_interval(t, 0.0)[1] - lit_interval(t, 0.0)[0] for t in range(60)])
    assert lit[:14].min() == 24.0 and lit[15:29].max() == 0.0
    assert lit[:29].sum() == pytest.approx(LIGHT_H)  # one whole lit half in the first cycle
    assert lit[29] == pytest.approx(30 * 24 - SYNODIC_H)  # the next sunrise comes during day 30
    # starting 300 h after sunrise: about 54 h of light left, then night
    assert [lit_interval(t, 300.0) for t in range(2)] == [(0.0, 24.0), (0.0, 24.0)]
    assert lit_interval(2, 300.0) == pytest.approx((0.0, LIGHT_H - 300.0 - 48.0))
    assert lit_interval(3, 300.0) == (0.0, 0.0)


def test_configurations_are_the_largest_sets_under_the_peak():
    draws = np.array([1.0, 0.4, 0.3, 1.5, 2.0, 0.0])
    sets = [set(s.tolist()) for s in configurations(draws, 2.0)]
    assert {4} in sets and {0, 1, 2} in sets and {1, 3} in sets
    assert all(draws[list(s)].sum() <= 2.0 for s in sets)
    assert not any(5 in s for s in sets)  # a module drawing nothing is never limited
    for s in sets:  # maximal: nothing else fits beside any of them
        assert all(draws[list(s | {k})].sum() > 2.0 for k in range(5) if k not in s)


def test_the_peak_limit_holds_in_every_hour_of_a_lunar_night():
    problem, batches, plan = _plan(LUNAR)
    hourly = hourly_kw(problem, schedule(problem, batches, plan))
    dark_days = [t for t in range(problem.days) if problem.power.light_h[t] == 0.0]
    assert len(dark_days) >= 14
    night = hourly[dark_days]
    assert night.max() <= 3.0 + 1e-9
    assert night.max() > 2.0  # work does run at night (the wet-waste cap needs it): the check is not vacuous
    assert hourly.max() <= 3.0 + 1e-9  # and in daylight
    # the schedule does every module's planned hours
    for t, day in enumerate(schedule(problem, batches, plan)):
        ran = np.zeros(len(problem.module_keys))
        for start, end, k in day:
            assert 0.0 <= start <= end <= 24.0 + 1e-9
            ran[k] += end - start
        planned = np.zeros(len(problem.module_keys))
        np.add.at(planned, problem.recipe_module, batches[t] * problem.duration_h)
        assert np.allclose(ran, planned, atol=1e-6), t


def test_night_energy_comes_from_storage_that_never_runs_out():
    problem, batches, plan = _plan(LUNAR)
    pw = problem.power
    dark = plan["dark"] @ problem.energy_kwh
    light = batches @ problem.energy_kwh - dark
    battery = np.concatenate([[pw.battery_kwh], plan["battery"]])
    assert battery.min() >= -1e-6 and battery.max() <= pw.battery_kwh + 1e-6
    for t in range(problem.days):
        lit = pw.light_h[t]
        assert light[t] <= problem.energy_per_day * lit / 24.0 + 1e-6  # generated only while lit
        if lit == 0.0:  # a dark day: everything it ran came out of storage (no night source here)
            assert battery[t] - battery[t + 1] >= dark[t] - 1e-6
    assert dark.sum() > 0 and (plan["dark"] <= batches + 1e-9).all()


def test_energy_hungry_recipes_move_to_daylight():
    problem, batches, plan = _plan({"power_profile": "lunar", "battery_kwh": 150.0}, days=60)
    sinter = problem.recipe_keys.index("sinter_brick")
    assert batches[:, sinter].sum() > 10
    assert plan["dark"][:, sinter].sum() <= 0.01 * batches[:, sinter].sum()  # storage is kept for what cannot wait
    dark_energy = plan["dark"] @ problem.energy_kwh
    assert dark_energy.sum() > 50  # while wet waste is still processed through the night


def test_what_ifs_move_the_way_an_engineer_expects():
    def bricks(config):
        snapshot = reference_snapshot(crew_size=4)
        return simulate(snapshot, "throughput_optimization", {"time_horizon_days": 60, **config})["kpis"]["target_kg"]

    free = bricks({})
    assert bricks({"peak_kw": 100.0}) == pytest.approx(free, rel=1e-9)  # a limit above every draw changes nothing
    assert bricks({"peak_kw": 3.0}) < free
    small, large = bricks({**LUNAR, "battery_kwh": 130.0}), bricks({**LUNAR, "battery_kwh": 400.0})
    assert small < large < free
    assert bricks({**LUNAR, "battery_kwh": 130.0, "night_kw": 1.0}) > small


def test_results_carry_the_power_profile_and_no_profile_changes_nothing():
    snapshot = reference_snapshot(crew_size=4)
    plain = simulate(snapshot, "throughput_optimization", {"time_horizon_days": 30})
    assert "power" not in plain
    result = simulate(snapshot, "throughput_optimization", {"time_horizon_days": 30, **LUNAR})
    power = result["power"]
    assert power["profile"] == "lunar" and len(power["light_hours"]) == 30
    assert max(power["peak_kw_used"]) <= 3.0 + 1e-9
    assert sum(power["energy_light_kwh"]) + sum(power["energy_dark_kwh"]) == pytest.approx(
        result["kpis"]["energy_kwh"], abs=1e-2
    )


def test_whole_batches_under_the_night_are_whole_and_keep_the_limit():
    snapshot = reference_snapshot(crew_size=4)
    config = {"time_horizon_days": 6, "lunar_phase_h": LIGHT_H - 72, **LUNAR}  # three days of light, then night
    result = simulate(snapshot, "throughput_optimization", {**config, "whole_batches": True})
    assert result["integer"]["method"] == "milp"
    for series in result["batches"].values():
        assert all(float(v).is_integer() for v in series)
    assert max(result["power"]["peak_kw_used"]) <= 3.0 + 1e-9
    assert sum(result["power"]["energy_dark_kwh"]) > 0


def test_a_monte_carlo_re_plans_each_scenario_under_the_profile():
    snapshot = reference_snapshot(crew_size=4)
    result = simulate(
        snapshot, "monte_carlo", {"time_horizon_days": 40, "scenarios": 10, "seed": 3, **LUNAR, "battery_kwh": 300.0}
    )
    assert result["monte_carlo"]["scenarios"] == 10
    assert result["monte_carlo"]["max_mass_balance_residual_kg"] <= 1e-6


def test_refusals_name_the_setting():
    snapshot = reference_snapshot(crew_size=4)
    with pytest.raises(EngineError) as night:
        simulate(snapshot, "throughput_optimization", {"time_horizon_days": 45, "power_profile": "lunar"})
    assert night.value.constraint == "wet_waste_cap" and "storage" in str(night.value)
    with pytest.raises(EngineError) as policy:
        simulate(snapshot, "mass_balance", {"time_horizon_days": 10, "peak_kw": 3.0})
    assert policy.value.constraint == "power_profile"
    with pytest.raises(EngineError) as profile:
        simulate(snapshot, "throughput_optimization", {"power_profile": "martian"})
    assert profile.value.constraint == "power_profile"
    with pytest.raises(EngineError) as peak:
        simulate(snapshot, "throughput_optimization", {"peak_kw": -1})
    assert peak.value.constraint == "peak_kw"


def test_power_settings_are_read_from_the_form_and_the_api_alike():
    from webapp.core.errors import ValidationError
    from webapp.simulations.service.runs import parse_run_request

    def config(run_type="throughput_optimization", **settings):
        return parse_run_request({"run_type": run_type, "config": settings})[2]

    assert not {"power_profile", "peak_kw", "battery_kwh"} & set(config())
    assert not {"power_profile", "peak_kw"} & set(config(power_profile="continuous", peak_kw=""))
    lunar = config(power_profile="lunar", peak_kw="3", battery_kwh="150", night_kw="0", lunar_phase_h="354")
    assert lunar["power_profile"] == "lunar" and lunar["peak_kw"] == 3.0 and lunar["battery_kwh"] == 150.0
    assert lunar["lunar_phase_h"] == 354.0 and "night_kw" not in lunar  # 0 is the default: not stored
    refusals = (
        ({"power_profile": "martian"}, "power_profile", "throughput_optimization"),
        ({"peak_kw": "0"}, "peak_kw", "throughput_optimization"),
        ({"peak_kw": True}, "peak_kw", "throughput_optimization"),
        ({"battery_kwh": 100}, "battery_kwh", "throughput_optimization"),  # storage needs the lunar profile
        ({"power_profile": "lunar", "night_kw": "nan"}, "night_kw", "throughput_optimization"),
        ({"power_profile": "lunar", "lunar_phase_h": 709}, "lunar_phase_h", "throughput_optimization"),
        ({"peak_kw": 3}, "power_profile", "mass_balance"),
        ({"power_profile": "lunar", "plan": "mass_balance"}, "power_profile", "monte_carlo"),
        ({"peak_kw": 3, "whole_batches": True, "time_horizon_days": 31}, "whole_batches", "waste_minimization"),
    )
    for settings, field, run_type in refusals:
        with pytest.raises(ValidationError) as refused:
            config(run_type, **settings)
        assert field in refused.value.details["fields"], settings
