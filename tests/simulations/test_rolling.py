"""The rolling-horizon policy: a crew that re-plans only on what it has seen, beside the perfect-information bound."""

from __future__ import annotations

import numpy as np
import pytest

from webapp.simulations.engine import EngineError, planner, simulate
from webapp.simulations.engine.failures import FailureClock, KnownFailures, module_streams, planned_use
from webapp.simulations.engine.lp import PlanningLP
from webapp.simulations.engine.model import build_problem
from webapp.simulations.engine.power import ROUND_TRIP, hourly_kw, schedule
from webapp.simulations.engine.report import flows, kpis, limits_held, replay
from webapp.simulations.engine.rolling import RollingHorizon
from webapp.simulations.snapshot import reference_snapshot


def _problem(days: int, **config):
    return build_problem(reference_snapshot(crew_size=4), {"time_horizon_days": days, **config})


def test_without_failures_it_keeps_every_limit_close_to_the_plan():
    p = _problem(90)
    base = PlanningLP(p).solve("throughput_optimization")
    batches = RollingHorizon(p, "throughput_optimization", 0.0).run(
        KnownFailures(p, p.hours, np.full(p.days, p.crew_h_per_day))
    )
    assert replay(p, batches) <= 1e-6  # never uses what is not in store
    assert all(limits_held(p, flows(p, batches)).values())
    rolled, planned = kpis(p, batches)["target_kg"], kpis(p, base)["target_kg"]
    # a 28-day look-ahead that keeps a day's buffer under each cap loses a little, never gains
    assert 0.95 * planned <= rolled <= planned + 1e-6


def test_it_never_beats_the_perfect_information_bound_on_the_same_failures():
    """Its modules wear by the hours it runs them; the plan that knows those very failures in advance does at least
    as well."""
    p = _problem(120)
    base = PlanningLP(p).solve("throughput_optimization")
    use = planned_use(p, base)
    rolling, solve = RollingHorizon(p, "throughput_optimization", 0.0), planner(p, "throughput_optimization", 0.0)
    compared = failures = 0
    for number in range(12):
        met = FailureClock(p, module_streams(7, number, len(p.module_keys)), needed=use)
        ours = rolling.run(met)
        assert replay(p, ours) <= 1e-6
        hours, crew = met.available()
        # the failures came at the hours the rolling crew ran: within what it ran of each module
        ran = planned_use(p, ours).sum(axis=1)
        assert all(ran[k] > 0 for k, *_ in met.repairs)
        failures += len(met.repairs)
        best = solve(hours, crew, elastic=True)
        held_ours, held_best = (all(limits_held(p, flows(p, b)).values()) for b in (ours, best))
        if held_ours and held_best:
            assert kpis(p, ours)["target_kg"] <= kpis(p, best)["target_kg"] + 1e-6
            compared += 1
    assert compared >= 6
    assert failures > 12  # the scenarios do have failures


def test_it_re_plans_when_a_module_fails_and_works_around_it():
    p = _problem(40)
    crew = np.full(p.days, p.crew_h_per_day)
    press = p.module_keys.index("press")
    hours = p.hours.copy()
    hours[press, 10:20] = 0.0  # the press is down for ten days, from day 11
    repairs = [(press, 10 * 24.0, 20 * 24.0)]
    batches = RollingHorizon(p, "throughput_optimization", 0.0).run(KnownFailures(p, hours, crew, repairs))
    used = planned_use(p, batches)
    assert used[press, 10:20].max() == 0.0  # nothing planned on the broken press
    assert used[press, :10].sum() > 0 and used[press, 20:].sum() > 0
    assert replay(p, batches) <= 1e-6
    # the same failure met without seeing it coming costs bricks against the failure-free plan
    free = RollingHorizon(p, "throughput_optimization", 0.0).run(KnownFailures(p, p.hours, crew))
    assert kpis(p, batches)["target_kg"] < kpis(p, free)["target_kg"]


def test_a_monte_carlo_reports_the_policy_and_its_limits():
    snapshot = reference_snapshot(crew_size=4)
    result = simulate(
        snapshot, "monte_carlo", {"time_horizon_days": 60, "scenarios": 8, "seed": 2, "policy": "rolling_horizon"}
    )
    mc = result["monte_carlo"]
    assert mc["policy"] == "rolling_horizon" and mc["scenarios"] == 8
    assert mc["max_mass_balance_residual_kg"] <= 1e-6
    assert 0 <= mc["probability_limits_held"] <= 1
    assert mc["kpis"]["target_kg"]["p90"] <= result["kpis"]["target_kg"] + 1e-6
    # reproducible from its seed
    again = simulate(
        snapshot, "monte_carlo", {"time_horizon_days": 60, "scenarios": 8, "seed": 2, "policy": "rolling_horizon"}
    )
    assert again["monte_carlo"]["kpis"] == mc["kpis"]


def test_refusals():
    from webapp.core.errors import ValidationError
    from webapp.simulations.service.runs import parse_run_request

    snapshot = reference_snapshot(crew_size=4)
    with pytest.raises(EngineError) as fixed:
        simulate(snapshot, "monte_carlo", {"scenarios": 2, "plan": "mass_balance", "policy": "rolling_horizon"})
    assert fixed.value.constraint == "plan"
    config = parse_run_request(
        {
            "run_type": "monte_carlo",
            "config": {"policy": "rolling_horizon", "scenarios": 1000, "time_horizon_days": 365},
        }
    )[2]
    assert config["policy"] == "rolling_horizon"
    with pytest.raises(ValidationError) as too_many:  # the perfect-information bound costs ~30x more per scenario
        parse_run_request({"run_type": "monte_carlo", "config": {"scenarios": 1000, "time_horizon_days": 365}})
    assert "scenarios" in too_many.value.details["fields"]
    with pytest.raises(ValidationError) as unknown:
        parse_run_request({"run_type": "monte_carlo", "config": {"policy": "clairvoyant"}})
    assert "policy" in unknown.value.details["fields"]
    mixed = parse_run_request({"run_type": "monte_carlo", "config": {"degraded_share": "0.4"}})[2]
    assert mixed["degraded_share"] == 0.4  # as the form sends it
    assert "degraded_share" not in parse_run_request({"run_type": "monte_carlo", "config": {"degraded_share": 0}})[2]
    for wrong in (1.5, -0.1, "half", True):
        with pytest.raises(ValidationError) as refused:
            parse_run_request({"run_type": "monte_carlo", "config": {"degraded_share": wrong}})
        assert "degraded_share" in refused.value.details["fields"], wrong
    carried = parse_run_request({"run_type": "monte_carlo", "config": {"spares_per_module": "2"}})[2]
    assert carried["spares_per_module"] == 2  # as the form sends it
    none = parse_run_request({"run_type": "monte_carlo", "config": {"spares_per_module": 0}})[2]
    assert none["spares_per_module"] == 0  # no spares at all is a setting, not a blank
    assert "spares_per_module" not in parse_run_request({"run_type": "monte_carlo", "config": {}})[2]
    for wrong in (51, -1, 1.5, "two"):
        with pytest.raises(ValidationError) as refused:
            parse_run_request({"run_type": "monte_carlo", "config": {"spares_per_module": wrong}})
        assert "spares_per_module" in refused.value.details["fields"], wrong
    pulsed = parse_run_request({"run_type": "throughput_optimization", "config": {"resupply_every_days": "45"}})[2]
    assert pulsed["resupply_every_days"] == 45
    assert "resupply_every_days" not in parse_run_request({"run_type": "mass_balance", "config": {}})[2]
    for wrong in (0, 366, 2.5, "monthly", True):
        with pytest.raises(ValidationError) as refused:
            parse_run_request({"run_type": "mass_balance", "config": {"resupply_every_days": wrong}})
        assert "resupply_every_days" in refused.value.details["fields"], wrong
    evas = parse_run_request({"run_type": "mass_balance", "config": {"eva_per_week": "2", "eva_waste_kg": "1.5"}})[2]
    assert (evas["eva_per_week"], evas["eva_waste_kg"]) == (2, 1.5)
    for config, field in (({"eva_per_week": 2}, "eva_waste_kg"), ({"eva_waste_kg": 1}, "eva_per_week"),
                          ({"eva_per_week": 9, "eva_waste_kg": 1}, "eva_per_week"),
                          ({"eva_per_week": 1, "eva_waste_kg": "lots"}, "eva_waste_kg")):  # fmt: skip
        with pytest.raises(ValidationError) as refused:
            parse_run_request({"run_type": "mass_balance", "config": config})
        assert field in refused.value.details["fields"], config


def test_waste_that_varies_day_by_day_is_planned_and_accounted_for():
    from webapp.simulations.engine.generation import sample_arrivals

    p = _problem(60)
    arrivals = sample_arrivals(p, 0.3, seed=4, scenario=0)
    waste = p.mask("waste")
    assert arrivals.shape == (60, len(p.items)) and (arrivals >= 0).all()
    assert not np.allclose(arrivals[:, waste], p.generation[waste])  # it varies...
    assert np.allclose(arrivals[:, ~waste], p.generation[~waste])  # ...only the waste (regolith comes as planned)
    many = np.mean([sample_arrivals(p, 0.3, 4, n)[:, waste].sum() for n in range(40)])
    assert many == pytest.approx(p.generation[waste].sum() * 60, rel=0.02)  # ...around the same mean
    assert sample_arrivals(p, 0.0, 4, 0) is None

    snapshot = reference_snapshot(crew_size=4)
    config = {"time_horizon_days": 60, "scenarios": 10, "seed": 4}
    steady = simulate(snapshot, "monte_carlo", config)["monte_carlo"]
    assert simulate(snapshot, "monte_carlo", {**config, "generation_cv": 0.0})["monte_carlo"]["kpis"] == steady["kpis"]
    for policy in ("perfect_information", "rolling_horizon"):
        varied = simulate(snapshot, "monte_carlo", {**config, "generation_cv": 0.3, "policy": policy})["monte_carlo"]
        assert varied["generation_cv"] == 0.3
        assert varied["max_mass_balance_residual_kg"] <= 1e-6  # every scenario replayed against its own arrivals
        processed = varied["kpis"]["waste_processed_kg"]
        assert (
            processed["p90"] - processed["p10"]
            > steady["kpis"]["waste_processed_kg"]["p90"] - steady["kpis"]["waste_processed_kg"]["p10"]
        )


LUNAR_NIGHT = {"power_profile": "lunar", "battery_kwh": 200.0, "peak_kw": 3.0, "lunar_phase_h": 200.0}


def test_under_the_lunar_night_each_window_plans_its_own_light_and_carries_the_storage_on():
    p = build_problem(reference_snapshot(crew_size=4), {"time_horizon_days": 45, **LUNAR_NIGHT})
    crew = np.full(p.days, p.crew_h_per_day)
    press = p.module_keys.index("press")
    hours = p.hours.copy()
    hours[press, 5:9] = 0.0  # a failure it meets on the day, so it re-plans mid-window
    rolling = RollingHorizon(p, "throughput_optimization", 0.0)
    batches = rolling.run(KnownFailures(p, hours, crew, [(press, 5 * 24.0, 9 * 24.0)]))
    power, pw = rolling.power, p.power
    assert replay(p, batches) <= 1e-6 and limits_held(p, flows(p, batches))["wet_waste_cap"]
    # the peak held in every hour it ran, its night work included (laid out from what it ran in light and dark)
    hourly = hourly_kw(p, schedule(p, batches, power))
    dark_days = np.flatnonzero(pw.light_h == 0.0)
    assert dark_days.size >= 10 and hourly.max() <= 3.0 + 1e-9 and hourly[dark_days].max() > 0.5
    # each day: light work within the day's lit allocation, dark work within night power and what storage gave,
    # and storage never below empty or above its capacity — checked from the days it ran, not the window LPs
    energy, dark = batches @ p.energy_kwh, power["dark"] @ p.energy_kwh
    budget = p.energy_per_day * pw.light_h / 24.0
    assert (power["dark"] <= batches + 1e-9).all() and (energy - dark <= budget + 1e-6).all()
    before = np.concatenate([[pw.battery_kwh], power["battery"][:-1]])
    given = np.maximum(dark - pw.night_kw * (24.0 - pw.light_h), 0.0)  # what storage must have discharged
    charged = ROUND_TRIP * (budget - (energy - dark))  # at most what the lit allocation had left
    assert (power["battery"] - before <= charged - given + 1e-6).all()
    assert power["battery"].min() >= -1e-9 and power["battery"].max() <= pw.battery_kwh + 1e-9
    assert dark[dark_days].sum() > 0 and power["battery"][dark_days].min() < pw.battery_kwh - 1.0  # night ran on it
    assert planned_use(p, batches)[press, 5:9].max() == 0.0


def test_a_rolling_horizon_monte_carlo_runs_under_a_peak_limit_and_the_lunar_profile():
    snapshot = reference_snapshot(crew_size=4)
    for power in ({"peak_kw": 3.0}, LUNAR_NIGHT):
        config = {"time_horizon_days": 40, "scenarios": 6, "seed": 5, "policy": "rolling_horizon", **power}
        result = simulate(snapshot, "monte_carlo", config)
        mc = result["monte_carlo"]
        assert mc["policy"] == "rolling_horizon" and mc["max_mass_balance_residual_kg"] <= 1e-6
        assert mc["kpis"]["target_kg"]["p50"] <= result["kpis"]["target_kg"] + 1e-6  # never beats no failures
        assert result["power"]["peak_kw"] == power["peak_kw"]
