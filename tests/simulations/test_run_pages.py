"""Run pages: start from the mission (form validation changes nothing), the live page before and after a worker
ran it (the real execution code, called here), results with KPI cards and charts, polling, SSE, compare, delete."""

from __future__ import annotations

import asyncio
import uuid

from tests.helpers import login

HX = {"HX-Request": "true"}


async def _mission(client, slug, token) -> str:
    created = await client.post(
        f"/o/{slug}/missions",
        form={
            "csrf_token": token,
            "name": "Artemis Base Camp",
            "destination": "moon",
            "crew_size": "4",
            "status": "planning",
        },
    )
    return created.headers["Location"].rsplit("/", 1)[1]


async def _owner_with_mission(client, factory):
    """A signed-in owner of a new organization with one mission: (owner, CSRF token, mission id)."""
    owner = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    return owner, token, await _mission(client, owner.org_slug, token)


async def _work(app, maker, org_id, run_id) -> str:
    """Do what a worker does for this run (a live worker of the same test session may get there first)."""
    from webapp.core.tenancy import scope_session
    from webapp.core.transaction import unit_of_work
    from webapp.simulations.models import SimulationRun
    from webapp.simulations.service.execution import execute_run

    state = app.extensions["closedloop"]
    status = await execute_run(maker, state["redis"], state["settings"].redis_namespace, org_id, uuid.UUID(run_id))
    for _ in range(300):
        if status is not None and status.is_final:
            return str(status)
        await asyncio.sleep(0.2)
        async with unit_of_work(maker) as session:
            await scope_session(session, org_id=org_id)
            status = (await session.get(SimulationRun, uuid.UUID(run_id))).status
    return str(status)


async def _brick_cells(client, slug, mission) -> list[str]:
    """The dashboard's brick row: records, recorded kg, planned kg, share of plan."""
    page = await (await client.get(f"/o/{slug}/missions/{mission}")).get_data(as_text=True)
    row = page.split('id="product-totals"')[1].split("Brick</td>")[1].split("</tr>")[0]
    return [cell.split("<")[0].replace(",", "") for cell in row.split('class="num">')[1:]]


async def test_start_watch_and_read_a_run(app, client, factory, maker, count_rows):
    owner, token, mission = await _owner_with_mission(client, factory)
    slug = owner.org_slug
    dashboard = await (await client.get(f"/o/{slug}/missions/{mission}")).get_data(as_text=True)
    assert "Simulation runs" in dashboard and "No simulation runs yet" in dashboard
    base = f"/o/{slug}/missions/{mission}/simulations"
    modal = await (await client.get(f"{base}/new", headers=HX)).get_data(as_text=True)
    assert '<form id="run-form"' in modal and '<fieldset class="for-type-monte_carlo">' in modal  # shown for its type

    bad = await client.post(
        base,
        headers=HX,
        form={
            "csrf_token": token,
            "name": "",
            "run_type": "throughput_optimization",
            "target": "brick",
            "time_horizon_days": "9999",
            "scenarios": "",
            "plan": "throughput_optimization",
            "seed": "abc",
        },
    )
    html = await bad.get_data(as_text=True)
    assert bad.status_code == 422 and "from 1 to 730" in html and "from 0 to" in html
    assert await count_rows("simulation_runs", "mission_id = :m", m=mission) == 0

    started = await client.post(
        base,
        form={
            "csrf_token": token,
            "name": "Brick plan",
            "run_type": "throughput_optimization",
            "target": "brick",
            "time_horizon_days": "21",
            "scenarios": "",
            "plan": "throughput_optimization",
            "seed": "42",
        },
    )
    assert started.status_code == 303
    run_url = started.headers["Location"]
    run_id = run_url.rsplit("/", 1)[1]
    waiting = await (await client.get(run_url)).get_data(as_text=True)
    # a live worker of the same test session may already be on it
    assert (
        ("Waiting for a worker" in waiting and "sse-connect" in waiting and "Cancel run" in waiting)
        or "Planning" in waiting
        or "Results" in waiting
    )
    poll = await client.get(f"{run_url}/progress", headers=HX)
    assert poll.status_code in (200, 286) and 'id="run-bar"' in await poll.get_data(as_text=True)

    assert await _work(app, maker, owner.org_id, run_id) == "succeeded"
    page = await (await client.get(run_url)).get_data(as_text=True)
    assert "sse-connect" not in page and "Results" in page and "Recycling rate" in page
    assert page.count("<polyline") >= 3 and "Energy per day" in page and "Budget 60" in page
    assert "Products this plan schedules" in page and "Brick" in page and "Re-run with the same inputs" in page
    # each recipe says what it took: the shredder's mix of plastics includes the drink pouches
    assert '<th scope="col">Takes</th>' in page and " kg drink pouches" in page
    assert "Attempt 1 on " in page and "Finished:" in page
    final_poll = await client.get(f"{run_url}/progress", headers=HX)
    assert final_poll.status_code == 286  # htmx stops polling
    fragment = await (await client.get(f"{run_url}/results", headers=HX)).get_data(as_text=True)
    assert fragment.startswith('\n<section id="results"') or '<section id="results"' in fragment[:200]

    sse = await client.get(f"/o/{slug}/simulations/{run_id}/subscribe")
    body = await sse.get_data(as_text=True)
    assert sse.headers["Content-Type"].startswith("text/event-stream")
    assert "event: progress" in body and "event: done" in body and "Done" in body

    planned_once = await _brick_cells(client, slug, mission)
    assert planned_once[0] == "0" and planned_once[1] == "0.00" and float(planned_once[2]) > 0

    rerun = await client.post(f"{run_url}/rerun", form={"csrf_token": token})
    second_url = rerun.headers["Location"]
    assert await _work(app, maker, owner.org_id, second_url.rsplit("/", 1)[1]) == "succeeded"
    # the same plan again: the dashboard shows the latest plan beside the records, never the two added up
    assert await _brick_cells(client, slug, mission) == planned_once
    listing = await (await client.get(base)).get_data(as_text=True)
    assert "Brick plan (re-run)" in listing and "Compare with newest" in listing
    compare = await client.get(f"/o/{slug}/simulation-runs/compare?a={run_id}&b={second_url.rsplit('/', 1)[1]}")
    text = await compare.get_data(as_text=True)
    assert compare.status_code == 200
    target_row = text.split('<th scope="row">Target product</th>')[1].split("</tr>")[0]
    assert target_row.count("kg") == 2 and ">same</td>" in target_row  # same inputs and seed: the same plan
    # both pickers offer the succeeded runs by mission, name and day, the chosen ones selected
    assert text.count(f'value="{run_id}" selected') == 1 and "Brick plan (re-run) · " in text

    logs = await (await client.get(f"{run_url}/logs")).get_data(as_text=True)
    assert "Attempt 1 on " in logs
    deleted = await client.post(f"{run_url}/delete", form={"csrf_token": token})
    assert deleted.status_code == 303
    assert (await client.get(run_url)).status_code == 404
    # the deleted run's plan goes with it; the re-run's stays and is now the latest plan
    assert await count_rows("products", "simulation_run_id = :r AND deleted_at IS NULL", r=run_id) == 0
    assert (
        await count_rows("products", "simulation_run_id = :r AND deleted_at IS NULL", r=second_url.rsplit("/", 1)[1])
        > 0
    )
    assert await _brick_cells(client, slug, mission) == planned_once


async def test_viewers_read_but_cannot_start_and_other_orgs_get_404(app, client, factory, maker):
    from webapp.core.permissions import SystemRole

    owner, token, mission = await _owner_with_mission(client, factory)
    started = await client.post(
        f"/o/{owner.org_slug}/missions/{mission}/simulations",
        form={
            "csrf_token": token,
            "name": "",
            "run_type": "mass_balance",
            "target": "brick",
            "time_horizon_days": "10",
            "scenarios": "",
            "plan": "throughput_optimization",
            "seed": "",
        },
    )
    run_url = started.headers["Location"]
    viewer = await factory.member(owner, role=SystemRole.VIEWER)
    other = app.test_client()
    viewer_token = await login(other, viewer.email, viewer.password)
    assert (await other.get(run_url)).status_code == 200
    assert (await other.post(f"{run_url}/cancel", form={"csrf_token": viewer_token})).status_code == 403
    stranger = await factory.org_with_owner()
    third = app.test_client()
    await login(third, stranger.email, stranger.password)
    foreign = run_url.replace(f"/o/{owner.org_slug}/", f"/o/{stranger.org_slug}/")
    assert (await third.get(foreign)).status_code == 404


async def test_a_lunar_night_run_from_the_form(app, client, factory, maker, count_rows):
    owner, token, mission = await _owner_with_mission(client, factory)
    slug = owner.org_slug
    base = f"/o/{slug}/missions/{mission}/simulations"
    modal = await (await client.get(f"{base}/new", headers=HX)).get_data(as_text=True)
    assert 'name="power_profile"' in modal and 'class="grid-3 for-power-lunar"' in modal
    form = {
        "csrf_token": token,
        "name": "Through the night",
        "run_type": "throughput_optimization",
        "target": "brick",
        "time_horizon_days": "40",
        "plan": "throughput_optimization",
        "power_profile": "lunar",
        "peak_kw": "3",
        "battery_kwh": "-5",
        "night_kw": "0",
        "lunar_phase_h": "0",
    }
    bad = await client.post(base, headers=HX, form=form)
    assert bad.status_code == 422 and "Storage is 0 to 1,000,000 kWh." in await bad.get_data(as_text=True)
    refused = await client.post(base, headers=HX, form=form | {"battery_kwh": "200", "run_type": "mass_balance"})
    assert refused.status_code == 422 and "needs an optimising plan" in await refused.get_data(as_text=True)
    assert await count_rows("simulation_runs", "mission_id = :m", m=mission) == 0

    started = await client.post(base, form=form | {"battery_kwh": "200"})
    assert started.status_code == 303
    run_url = started.headers["Location"]
    run_id = run_url.rsplit("/", 1)[1]
    assert await _work(app, maker, owner.org_id, run_id) == "succeeded"
    page = await (await client.get(run_url)).get_data(as_text=True)
    assert "Energy per day, in daylight and at night" in page and "At night" in page
    assert "Storage at the end of each day" in page and "Capacity 200" in page
    assert "Highest draw at any instant" in page and "Peak limit 3" in page
    assert "lunar day and night (354 h each)" in page and "kWh used at night" in page


async def test_a_monte_carlo_with_malfunctions_and_resupply_from_the_form(app, client, factory, maker, count_rows):
    owner, token, mission = await _owner_with_mission(client, factory)
    base = f"/o/{owner.org_slug}/missions/{mission}/simulations"
    form = {
        "csrf_token": token,
        "name": "Half the failures only slow",
        "run_type": "monte_carlo",
        "target": "brick",
        "time_horizon_days": "30",
        "scenarios": "20",
        "plan": "throughput_optimization",
        "seed": "3",
        "policy": "perfect_information",
        "degraded_share": "2",
        "resupply_every_days": "20",
        "eva_per_week": "1",
        "eva_waste_kg": "0.5",
        "spares_per_module": "1",
    }
    bad = await client.post(base, headers=HX, form=form)
    assert bad.status_code == 422 and "from 0 (every failure stops the module) to 1" in await bad.get_data(as_text=True)
    assert await count_rows("simulation_runs", "mission_id = :m", m=mission) == 0

    half_eva = await client.post(base, headers=HX, form=form | {"degraded_share": "0.5", "eva_waste_kg": ""})
    assert half_eva.status_code == 422 and "both how many a week and the waste each leaves" in await half_eva.get_data(
        as_text=True
    )
    started = await client.post(base, form=form | {"degraded_share": "0.5"})
    assert started.status_code == 303
    run_url = started.headers["Location"]
    run_id = run_url.rsplit("/", 1)[1]
    assert await _work(app, maker, owner.org_id, run_id) == "succeeded"
    page = await (await client.get(run_url)).get_data(as_text=True)
    assert "Failures per scenario" in page and "only slowed one (malfunctions, 50 % of failures)" in page
    assert "Packaging foam: 20 days&#39; worth arrives with each resupply, every 20 days from day 1." in page
    assert "EVA days: 1 a week (5 in 30 days), each leaving 0.5 kg of hygiene wipes" in page
    assert "Spares lasted" in page and "of scenarios, with 1 repairs&#39; worth a module" in page
    assert "Each module carries spares for 1 repair; a module that fails with none left stays down" in page
    again = await (await client.get(f"{base}/new?from={run_id}", headers=HX)).get_data(as_text=True)
    assert 'name="degraded_share"' in again and 'value="0.5"' in again.split('name="degraded_share"')[1][:200]
    assert 'value="20"' in again.split('name="resupply_every_days"')[1][:200]
    assert 'value="0.5"' in again.split('name="eva_waste_kg"')[1][:200]
    assert 'value="1"' in again.split('name="spares_per_module"')[1][:200]
