"""Trade studies and Pareto sweeps (issue 24): what-ifs that move the way an engineer expects, a trade-off whose ends
are the two single-objective plans and whose points no other point beats on both, refusals that name the setting,
and both run types from the form to the results page."""

from __future__ import annotations

import pytest

from tests.simulations.test_run_pages import HX, _owner_with_mission, _work
from webapp.simulations.engine import EngineError, simulate
from webapp.simulations.engine.study import validate_sweep
from webapp.simulations.snapshot import reference_snapshot
from webapp.usage import pricing

DAYS = 30


def _study(*sweep, plan="throughput_optimization", **config) -> dict:
    results = simulate(
        reference_snapshot(),
        "trade_study",
        {"time_horizon_days": DAYS, "sweep": list(sweep), "plan": plan} | config,
    )
    return results


def _column(study: dict, key: str) -> list[float]:
    return [point["kpis"][key] for point in study["trade_study"]["points"]]


def test_what_ifs_move_the_way_an_engineer_expects():
    energy = _study({"parameter": "energy_budget_kwh_per_day", "values": [20, 40, 60, 80]})
    bricks = _column(energy, "target_kg")
    assert bricks == sorted(bricks) and bricks[0] < bricks[-1]  # more energy, never fewer bricks
    assert all(
        e <= budget * DAYS + 1e-6 for e, budget in zip(_column(energy, "energy_kwh"), [20, 40, 60, 80], strict=True)
    )

    crew_time = _study({"parameter": "crew_time_h_per_day", "values": [0.5, 1, 2]})
    processed = _column(crew_time, "waste_processed_kg")
    assert processed == sorted(processed) and processed[0] < processed[-1]  # fewer crew hours, less processed

    sinter = _study({"parameter": "module:sinter", "values": [0, 1, 2]})
    bricks = _column(sinter, "target_kg")
    assert bricks[0] < bricks[1] <= bricks[2]  # a brick maker offline, fewer bricks; a second unit, never fewer
    neither = _study({"parameter": "module:sinter", "values": [0, 1]}, {"parameter": "module:press", "values": [0, 1]})
    offline = neither["trade_study"]["points"][0]["kpis"]
    assert offline["target_kg"] == 0 and offline["waste_processed_kg"] > 0  # no brick maker: the waste still planned

    crew = _study({"parameter": "crew_size", "values": [2, 4, 6]}, plan="mass_balance")
    points = crew["trade_study"]["points"]
    generated_by = [p["kpis"]["waste_processed_kg"] + p["kpis"]["waste_stored_kg"] for p in points]
    assert generated_by == sorted(generated_by) and generated_by[0] < generated_by[-1]  # a larger crew, more waste


def test_a_point_at_the_missions_own_settings_is_the_missions_plan():
    study = _study({"parameter": "energy_budget_kwh_per_day", "values": [30, 60]})
    own = study["trade_study"]["points"][1]["kpis"]  # the reference mission's budget is 60 kWh/day
    for key, value in own.items():
        assert value == pytest.approx(study["kpis"][key], abs=1e-3), key


def test_two_parameters_plan_every_combination_and_say_where_limits_break():
    study = _study(
        {"parameter": "energy_budget_kwh_per_day", "values": [5, 60]},
        {"parameter": "crew_size", "values": [2, 8]},
    )
    points = study["trade_study"]["points"]
    assert [p["values"] for p in points] == [[5.0, 2], [5.0, 8], [60.0, 2], [60.0, 8]]
    starved = points[1]  # 8 crew on 5 kWh a day: the wet-waste cap cannot hold, and the point says so
    assert starved["warnings"] and "wet-waste cap" in starved["warnings"][0]
    assert not points[2]["warnings"]


def test_pareto_ends_are_the_single_objective_plans_and_no_point_is_beaten_on_both():
    snapshot = reference_snapshot()
    most_brick = simulate(snapshot, "throughput_optimization", {"time_horizon_days": DAYS})["kpis"]
    least_stored = simulate(snapshot, "waste_minimization", {"time_horizon_days": DAYS})["kpis"]
    sweep = simulate(snapshot, "pareto_sweep", {"time_horizon_days": DAYS, "points": 7})["pareto"]
    points = [p["kpis"] for p in sweep["points"]]
    assert len(points) == 7 and not sweep["no_tradeoff"]
    assert points[0]["target_kg"] == pytest.approx(most_brick["target_kg"], rel=1e-6)
    assert points[-1]["waste_processed_kg"] == pytest.approx(least_stored["waste_processed_kg"], rel=1e-6)
    waste = [p["waste_processed_kg"] for p in points]
    brick = [p["target_kg"] for p in points]
    assert waste == sorted(waste) and brick == sorted(brick, reverse=True)  # each kg of waste costs bricks
    for a in points:
        for b in points:
            beaten = b["target_kg"] > a["target_kg"] + 1e-6 and b["waste_processed_kg"] > a["waste_processed_kg"] + 1e-6
            assert not beaten


def test_pareto_against_energy_climbs_from_the_least_energy_that_keeps_the_limits():
    sweep = simulate(reference_snapshot(), "pareto_sweep", {"time_horizon_days": DAYS, "against": "energy"})["pareto"]
    points = [p["kpis"] for p in sweep["points"]]
    energy = [p["energy_kwh"] for p in points]
    brick = [p["target_kg"] for p in points]
    assert energy == sorted(energy) and brick == sorted(brick) and brick[0] < brick[-1]
    assert energy[0] > 0  # the wet-waste cap needs some processing even with no bricks
    assert energy[-1] <= 60 * DAYS + 1e-6


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ([], "one or two parameters"),
        ([{"parameter": "gravity", "values": [1, 2]}], "cannot be swept"),
        ([{"parameter": "crew_size", "values": [2]}], "from 2 to 12 values"),
        ([{"parameter": "crew_size", "values": [2, 2.5]}], "whole numbers"),
        ([{"parameter": "crew_size", "values": [2, 2]}], "repeat"),
        ([{"parameter": "crew_size", "values": [2, "4"]}], "are numbers"),
        ([{"parameter": "module:warp_drive", "values": [0, 1]}], "no such module"),
        ([{"parameter": "module:sinter", "values": [0, 9]}], "from 0 to 4"),
        (
            [
                {"parameter": "crew_size", "values": list(range(1, 11))},
                {"parameter": "energy_budget_kwh_per_day", "values": list(range(10, 80, 10))},
            ],
            "at most 60",
        ),
    ],
)
def test_sweeps_the_engine_refuses_name_the_problem(sweep, message):
    with pytest.raises(EngineError, match=message) as refused:
        validate_sweep(sweep, reference_snapshot())
    assert refused.value.constraint == "sweep"


def test_module_units_are_not_swept_under_a_power_profile():
    with pytest.raises(EngineError, match="daily energy budget only"):
        _study({"parameter": "module:sinter", "values": [1, 2]}, power_profile="lunar", battery_kwh=100)


def test_a_study_holds_credits_for_every_plan_it_makes():
    plan = pricing.estimate({"time_horizon_days": 365})
    study = pricing.estimate({"time_horizon_days": 365, "sweep": [{"parameter": "crew_size", "values": [2, 4, 6]}]})
    pareto = pricing.estimate({"time_horizon_days": 365, "against": "energy", "points": 5})
    assert plan < study < pareto  # 1 plan; 1 + 3; 1 + 2 × 5


async def test_a_trade_study_and_a_pareto_sweep_from_the_form(app, client, factory, maker, count_rows):
    owner, token, mission = await _owner_with_mission(client, factory)
    slug = owner.org_slug
    base = f"/o/{slug}/missions/{mission}/simulations"
    modal = await (await client.get(f"{base}/new", headers=HX)).get_data(as_text=True)
    assert 'name="sweep_parameter_1"' in modal and 'value="module:sinter"' in modal and 'name="against"' in modal
    form = {
        "csrf_token": token,
        "run_type": "trade_study",
        "target": "brick",
        "time_horizon_days": "20",
        "sweep_parameter_1": "energy_budget_kwh_per_day",
        "sweep_values_1": "20, 40, 60",
        "sweep_parameter_2": "module:sinter",
        "sweep_values_2": "1 2",
        "study_plan": "throughput_optimization",
        "power_profile": "continuous",
    }
    bad = await client.post(base, headers=HX, form=form | {"sweep_values_1": "20, lots"})
    assert bad.status_code == 422 and "The values of Energy budget are numbers." in await bad.get_data(as_text=True)
    assert await count_rows("simulation_runs", "mission_id = :m", m=mission) == 0

    started = await client.post(base, form=form)
    assert started.status_code == 303, await started.get_data(as_text=True)
    run_url = started.headers["Location"]
    assert await _work(app, maker, owner.org_id, run_url.rsplit("/", 1)[1]) == "succeeded"
    page = await (await client.get(run_url)).get_data(as_text=True)
    assert "Every combination (6)" in page and "Brick against energy budget" in page
    assert "Units of Microwave sintering furnace (units)" in page and "they schedule no products" in page
    assert await count_rows("products", "simulation_run_id = :r", r=run_url.rsplit("/", 1)[1]) == 0
    again = await (await client.get(f"{base}/new?from={run_url.rsplit('/', 1)[1]}", headers=HX)).get_data(as_text=True)
    assert 'value="20, 40, 60"' in again  # "start from this run" fills the sweep back in

    pareto = await client.post(base, form=form | {"run_type": "pareto_sweep", "against": "energy", "points": "5"})
    assert pareto.status_code == 303
    assert await _work(app, maker, owner.org_id, pareto.headers["Location"].rsplit("/", 1)[1]) == "succeeded"
    page = await (await client.get(pareto.headers["Location"])).get_data(as_text=True)
    assert "Brick against energy spent: the trade-off" in page and "The trade-off, point by point" in page


def test_a_large_study_is_planned_on_the_process_pool_with_the_same_points_as_inline(monkeypatch):
    from webapp.simulations.engine import study as study_module

    sweep = [{"parameter": "energy_budget_kwh_per_day", "values": [5, 15, 25, 35, 45, 55, 65, 75, 85, 95]}]
    config = {"time_horizon_days": 365, "sweep": sweep, "plan": "throughput_optimization"}
    assert 10 * 365 >= study_module.PARALLEL_POINT_DAYS  # this one goes to the pool
    seen: list[float] = []
    pooled = study_module.run_trade_study(reference_snapshot(), config, "throughput_optimization", 0.0, seen.append)
    monkeypatch.setattr(study_module, "PARALLEL_POINT_DAYS", 10**9)
    inline = study_module.run_trade_study(reference_snapshot(), config, "throughput_optimization", 0.0, lambda f: None)
    assert pooled["points"] == inline["points"]  # same plans, in the order of the combinations
    assert [p["values"] for p in pooled["points"]] == [[v] for v in sweep[0]["values"]]
    assert pooled["pool_cpu_seconds"] > 0 and inline["pool_cpu_seconds"] == 0
    assert seen[-1] == 1.0 and seen == sorted(seen)  # progress only moves forward, to the end
