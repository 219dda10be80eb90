"""Simulation runs on real processes: web (uvicorn), taskiq worker and scheduler, embedded Redis."""

from __future__ import annotations

import json
import os
import time

import httpx
import pytest
import redis
from closedloop_client import ApiError, Client

from tests.conftest import csrf_from

pytestmark = pytest.mark.live

MISSION = {
    "name": "Shackleton Base",
    "destination": "moon",
    "crew_size": 4,
    "settings": {
        "recycle_target_kg_per_day": 3,
        "energy_budget_kwh_per_day": 60,
        "crew_time_h_per_day": 2,
        "regolith_supply_kg_per_day": 60,
        "wet_waste_cap_days": 3,
    },
}


KEY_PERMISSIONS = ["missions:read", "missions:write", "simulations:read", "simulations:run", "products:read"]


def login(http: httpx.Client, member) -> dict:
    """Sign in and mint an API key (the credential JSON clients use); returns its Authorization header."""
    token = csrf_from(http.get("/login").text)
    signed_in = http.post("/login", data={"csrf_token": token, "email": member.email, "password": member.password})
    assert signed_in.status_code == 303
    token = csrf_from(http.get("/me").text)  # sign-in rotated the CSRF seed
    created = http.post(
        f"/api/v1/organizations/{member.org_id}/api-keys",
        headers={"X-CSRF-Token": token},
        json={"name": "runs", "permissions": KEY_PERMISSIONS},
    )
    assert created.status_code == 201, created.text
    http.cookies.clear()
    return {"Authorization": f"Bearer {created.json()['key']}"}


def api_client(base_url: str, member) -> httpx.Client:
    """A JSON client of `member`'s organization: signs in once for an API key, then speaks with the key only."""
    with httpx.Client(base_url=base_url, timeout=20) as signing_in:
        headers = login(signing_in, member)
    return httpx.Client(base_url=base_url, timeout=20, headers=headers)


def typed_client(base_url: str, member) -> Client:
    """The published Python client (clients/python) with an API key of `member`'s."""
    with httpx.Client(base_url=base_url, timeout=20) as signing_in:
        key = login(signing_in, member)["Authorization"].removeprefix("Bearer ")
    return Client(base_url, api_key=key)


def new_mission(http: httpx.Client, member) -> str:
    created = http.post(f"/api/v1/organizations/{member.org_id}/missions", json=MISSION)
    assert created.status_code == 201, created.text
    return created.json()["id"]


def wait_for(http: httpx.Client, url: str, done, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    body = None
    while time.monotonic() < deadline:
        body = http.get(url).json()
        if done(body):
            return body
        time.sleep(0.2)
    brief = {k: body.get(k) for k in ("status", "progress_percent", "attempt", "message", "error")} if body else body
    raise AssertionError(f"gave up waiting: {brief}")


def final(body: dict) -> bool:
    return body["status"] in ("succeeded", "failed", "cancelled")


async def test_run_is_queued_then_worked_to_results_and_products(live_stack, factory, count_rows):
    member = await factory.org_with_owner()
    with typed_client(live_stack, member) as api:  # the published client: document, client and server agree
        mission = api.create_mission(str(member.org_id), MISSION)
        created = api.start_run(
            mission["id"], "throughput_optimization", {"target": "brick", "time_horizon_days": 30},
            name="Optimize brick output",
        )  # fmt: skip
        assert created["status"] == "queued"
        seen = []
        run = api.wait_for_run(created["id"], seen.append)
        assert run["status"] == "succeeded", run
        assert seen[-1]["finished"] and seen[-1]["progress"] == 100  # followed live over server-sent events
        assert run["progress_percent"] == 100 and run["attempt"] == 1
        results = run["results"]
        assert results["kpis"]["target_kg"] > 1000 and results["kpis"]["mass_balance_residual_kg"] < 1e-6
        assert len(results["inventory"]["food_packaging"]) == 30
        assert run["input_snapshot"]["mission"]["crew_size"] == 4 and run["engine_version"]
        logs = list(api.run_logs(run["id"]))
        assert logs[0]["message"].startswith("Attempt 1 on ") and logs[-1]["message"].startswith("Finished:")
        listed = list(api.runs(mission["id"]))
        assert [r["id"] for r in listed] == [run["id"]] and listed[0]["summary"]["target_kg"] > 1000
        products = list(api.mission_products(mission["id"], kind="planned"))

        # a plan is planned, one row per recipe, product and day, dated the day it schedules
        bricks = sum(p["quantity_kg"] for p in products if p["product_type"] == "brick")
        assert bricks == pytest.approx(results["kpis"]["target_kg"], abs=0.01 * 30)
        assert {p["simulation_run_id"] for p in products} == {run["id"]} and {p["kind"] for p in products} == {
            "planned"
        }
        start = run["input_snapshot"]["start_date"]
        days = sorted({p["produced_at"][:10] for p in products})
        assert days[0] == start and len(days) > 1 and days[-1] < "2100"
        assert not any(p["product_type"] in ("plastic_flakes", "hmc_tile") for p in products)  # consumed intermediates
        assert list(api.mission_products(mission["id"], kind="recorded")) == []

        # running the plan again adds a second plan, never to what the crew made
        second = api.wait_for_run(api.rerun(run["id"])["id"])
        assert second["status"] == "succeeded"
        mission_id = mission["id"]
        with httpx.Client(base_url=live_stack, timeout=20) as browser:
            token = csrf_from(browser.get("/login").text)
            browser.post("/login", data={"csrf_token": token, "email": member.email, "password": member.password})
            dashboard = browser.get(f"/o/{member.org_slug}/missions/{mission_id}").text
        totals = dashboard.split('id="product-totals"')[1].split("</table>")[0]
        brick_row = totals.split("Brick</td>")[1].split("</tr>")[0]
        cells = [c.split("<")[0] for c in brick_row.split('class="num">')[1:]]
        assert cells[0] == "0" and cells[1] == "0.00", cells  # nothing recorded, nothing counted as made
        assert float(cells[2].replace(",", "")) == pytest.approx(bricks, abs=0.01)  # the latest plan, not twice
        assert 'id="products-chart"' in dashboard and "Brick planned" in dashboard
    assert await count_rows("audit_logs", "action = 'simulation_run.start' AND entity_id = :i", i=run["id"]) == 1


async def test_a_trade_study_through_the_published_client(live_stack, factory):
    member = await factory.org_with_owner()
    with typed_client(live_stack, member) as api:
        mission = api.create_mission(str(member.org_id), MISSION)
        with pytest.raises(ApiError) as refused:  # a module the catalog does not have: 422 naming the sweep
            api.start_run(mission["id"], "trade_study", {"sweep": [{"parameter": "module:warp", "values": [0, 1]}]})
        assert refused.value.status == 422 and "sweep" in refused.value.details["fields"]
        sweep = [{"parameter": "crew_size", "values": [2, 4, 6]}]
        run = api.wait_for_run(
            api.start_run(mission["id"], "trade_study", {"time_horizon_days": 14, "sweep": sweep})["id"]
        )
        assert run["status"] == "succeeded", run
        study = run["results"]["trade_study"]
        assert [p["values"] for p in study["points"]] == [[2], [4], [6]] and study["axes"][0]["label"] == "Crew"
        # the mission's own crew (4) is the mission's own plan
        assert study["points"][1]["kpis"]["target_kg"] == pytest.approx(run["results"]["kpis"]["target_kg"], abs=1e-3)
        assert list(api.mission_products(mission["id"], kind="planned")) == []  # a study schedules nothing


async def test_duplicate_delivery_gives_one_result(live_stack, factory, count_rows):
    from webapp.simulations.tasks import run_simulation

    member = await factory.org_with_owner()
    with api_client(live_stack, member) as http:
        mission_id = new_mission(http, member)
        created = http.post(
            f"/api/v1/missions/{mission_id}/simulations",
            json={"run_type": "waste_minimization", "config": {"time_horizon_days": 20}},
        )
        run_id = created.json()["id"]
        from workers.broker import broker

        await broker.startup()
        try:
            for _ in range(2):  # the same task twice more, as a redelivery would
                await run_simulation.kiq(run_id, str(member.org_id))
        finally:
            await broker.shutdown()
        run = wait_for(http, created.headers["Location"], final)
        time.sleep(2)  # let the duplicates reach the worker and find nothing to claim
        again = http.get(created.headers["Location"]).json()
    assert run["status"] == "succeeded" and again["attempt"] == 1 and again["finished_at"] == run["finished_at"]
    products = await count_rows("products", "simulation_run_id = :i", i=run_id)
    distinct = await count_rows(
        "(SELECT DISTINCT recipe_id, product_type, produced_at FROM products WHERE simulation_run_id = :i) AS d",
        i=run_id,
    )
    assert products == distinct > 0  # every (recipe, product, day) of the plan once, however often it was delivered
    hold = f"simulation_run:{run_id}"
    assert await count_rows("credit_holds", "subject = :s AND status = 'settled'", s=hold) == 1  # charged once
    assert await count_rows("tenant_credit_ledger", "hold_id IS NOT NULL AND reason LIKE '%charged' AND "
                            "idempotency_key = :k", k=f"settle:{hold}") == 1  # fmt: skip


async def test_cancel_stops_a_running_monte_carlo_and_writes_nothing(live_stack, factory, count_rows):
    member = await factory.org_with_owner()
    with api_client(live_stack, member) as http:
        mission_id = new_mission(http, member)
        created = http.post(
            f"/api/v1/missions/{mission_id}/simulations",
            json={"run_type": "monte_carlo", "config": {"time_horizon_days": 60, "scenarios": 3000, "seed": 5}},
        )
        url = created.headers["Location"]
        wait_for(http, url, lambda b: b["status"] == "running" and b["progress_percent"] > 10)
        cancelled = http.patch(url + "/cancel")
        assert cancelled.status_code == 200, cancelled.text
        run = wait_for(http, url, final)
        assert run["status"] == "cancelled" and run["progress_percent"] < 100 and run["results"] is None
        assert http.patch(url + "/cancel").status_code == 409
        logs = [line["message"] for line in http.get(url + "/logs").json()["items"]]
    assert "Cancelled on request." in logs
    assert await count_rows("products", "simulation_run_id = :i", i=run["id"]) == 0
    # its hold given back in the transaction that recorded the cancel, and nothing charged
    assert (
        await count_rows("credit_holds", "subject = :s AND status = 'released'", s=f"simulation_run:{run['id']}") == 1
    )


async def test_bad_requests_are_refused_and_change_nothing(live_stack, factory, count_rows):
    member = await factory.org_with_owner()
    with api_client(live_stack, member) as http:
        mission_id = new_mission(http, member)
        base = f"/api/v1/missions/{mission_id}/simulations"
        for body, field in (
            ({"run_type": "teleport"}, "run_type"),
            ({"run_type": "mass_balance", "config": {"time_horizon_days": 0}}, "time_horizon_days"),
            ({"run_type": "mass_balance", "config": {"target": "regolith"}}, "target"),
            ({"run_type": "monte_carlo", "config": {"scenarios": 10**6}}, "scenarios"),
            ({"run_type": "mass_balance", "config": {"speed": "fast"}}, "config"),
            ({"run_type": "mass_balance", "surprise": 1}, "surprise"),
        ):
            refused = http.post(base, json=body)
            assert refused.status_code == 422, (body, refused.text)
            assert field in json.dumps(refused.json()["details"]), refused.json()
    assert await count_rows("simulation_runs", "mission_id = :m", m=mission_id) == 0


def _open_streams(base: str) -> int:
    metrics = httpx.get(base + "/metrics").text
    return int(
        next(line for line in metrics.splitlines() if line.startswith("closedloop_sse_open_streams ")).split()[1]
    )


async def test_sse_clients_that_leave_release_their_subscriptions(live_stack, factory, settings):
    from webapp.simulations.events import run_channel

    member = await factory.org_with_owner()
    server = redis.Redis.from_url(os.environ["REDIS_URL"])
    with api_client(live_stack, member) as http:
        mission_id = new_mission(http, member)
        created = http.post(
            f"/api/v1/missions/{mission_id}/simulations",
            json={"run_type": "monte_carlo", "config": {"time_horizon_days": 30, "scenarios": 2000}},
        )
        url, run_id = created.headers["Location"], created.json()["id"]
        channel = run_channel(settings.redis_namespace, run_id)
        before = _open_streams(live_stack)
        streams = [http.stream("GET", f"/api/v1/simulations/{run_id}/subscribe", timeout=30) for _ in range(5)]
        readers = [stream.__enter__().iter_lines() for stream in streams]  # kept: a dropped reader closes its stream
        for lines in readers:
            assert not json.loads(next(line for line in lines if line.startswith("data: "))[6:])["finished"]
        assert _open_streams(live_stack) == before + 5
        assert server.pubsub_numsub(channel)[0][1] == 1  # five streams, one shared subscription per web process
        for stream in streams:
            stream.__exit__(None, None, None)
        deadline = time.monotonic() + 20
        while (
            _open_streams(live_stack) > before or server.pubsub_numsub(channel)[0][1]
        ) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _open_streams(live_stack) == before  # every generator ended when its client left
        assert server.pubsub_numsub(channel)[0][1] == 0  # and let go of its subscription
        http.patch(url + "/cancel")
        wait_for(http, url, final)


def _signed_in_browser(base_url: str, member) -> httpx.Client:
    browser = httpx.Client(base_url=base_url, timeout=30)
    token = csrf_from(browser.get("/login").text)
    browser.post("/login", data={"csrf_token": token, "email": member.email, "password": member.password})
    browser.close()  # the cookies stay: a fresh client carries them
    return httpx.Client(base_url=base_url, timeout=30, cookies=browser.cookies)


def _events_until(lines, wanted: set[str]) -> dict[str, str]:
    """Read an SSE stream until every wanted event name has arrived; returns each one's last data."""
    seen, event, data = {}, None, []
    for line in lines:
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: "):
            data.append(line[len("data: ") :])
        elif not line and event:  # a blank line ends the event
            seen[event], event, data = "\n".join(data), None, []
            if wanted <= seen.keys():
                return seen
    raise AssertionError(f"the stream ended with {sorted(seen)} only")


async def test_run_lists_follow_a_run_live_on_the_mission_and_organization_streams(live_stack, factory):
    member = await factory.org_with_owner()
    with api_client(live_stack, member) as http, _signed_in_browser(live_stack, member) as browser:
        mission_id = new_mission(http, member)
        org_url = f"/o/{member.org_slug}/simulation-runs/events"
        mission_url = f"/o/{member.org_slug}/missions/{mission_id}/simulations/events"
        with browser.stream("GET", org_url) as org_stream, browser.stream("GET", mission_url) as mission_stream:
            assert org_stream.status_code == mission_stream.status_code == 200
            org_lines, mission_lines = org_stream.iter_lines(), mission_stream.iter_lines()
            assert next(org_lines) == next(mission_lines) == ": subscribed"  # both subscribed before the run starts
            created = http.post(
                f"/api/v1/missions/{mission_id}/simulations",
                json={"name": "Watched", "run_type": "throughput_optimization", "config": {"time_horizon_days": 10}},
            )
            assert created.status_code == 201, created.text
            run_id = created.json()["id"]
            for lines in (org_lines, mission_lines):
                seen = _events_until(lines, {f"run-{run_id}", "runs-changed"})
                assert 'class="pill' in seen[f"run-{run_id}"]  # the rendered status cell, not an error
        wait_for(http, created.headers["Location"], final)
