"""Runs survive crashes: a worker killed with SIGKILL mid-run and Redis restarted under a run. A private stack
(web, worker, scheduler) on its own embedded Redis, so the rest of the suite never sees these faults."""

from __future__ import annotations

import json
import secrets
import threading
import time

import httpx
import pytest

from tests.conftest import ROOT, Stack
from tests.simulations.test_runs_live import api_client, final, new_mission, wait_for
from webapp.embedded import EmbeddedRedis

pytestmark = pytest.mark.live

LONG_MONTE_CARLO = {"run_type": "monte_carlo", "config": {"time_horizon_days": 30, "scenarios": 800, "seed": 11}}


@pytest.fixture(scope="module")
def private():
    """An embedded Redis of its own and a stack using it; short stale and redelivery timeouts."""
    server = EmbeddedRedis(ROOT / "var" / "test" / f"redis-private-{secrets.token_hex(3)}")
    server.start()
    namespace = f"clpriv-{secrets.token_hex(3)}"
    env = {
        "REDIS_URL": server.url,
        "REDIS_NAMESPACE": namespace,
        "SIMULATION_STALE_SECONDS": "8",
        "TASK_IDLE_TIMEOUT_SECONDS": "5",
        "ENGINE_PROCESSES": "1",
    }
    with Stack(env, tag="-private") as stack:
        stack.redis_server, stack.namespace = server, namespace
        yield stack
    server.stop()


def _start(http: httpx.Client, mission_id: str) -> str:
    created = http.post(f"/api/v1/missions/{mission_id}/simulations", json=LONG_MONTE_CARLO)
    assert created.status_code == 201, created.text
    return created.headers["Location"]


async def test_worker_killed_mid_run_the_run_still_ends_once(private, factory, count_rows):
    member = await factory.org_with_owner()
    with api_client(private.url, member) as http:
        url = _start(http, new_mission(http, member))
        wait_for(http, url, lambda b: b["status"] == "running" and b["progress_percent"] >= 5)
        private.kill("worker")  # SIGKILL: no clean-up, no acknowledgement, the pool's children die with it
        private.start("worker")
        run = wait_for(http, url, final, timeout=240)
        logs = [line["message"] for line in http.get(url + "/logs?limit=100").json()["items"]]
    assert run["status"] == "succeeded", run
    assert run["attempt"] >= 2  # taken over by a redelivery or the reaper, fenced by the attempt number
    assert sum(1 for m in logs if m.startswith("Finished:")) == 1
    assert any(m.startswith("Attempt 2 on ") for m in logs)
    assert run["results"]["monte_carlo"]["scenarios"] == 800
    assert await count_rows("simulation_runs", "id = :i AND status = 'succeeded'", i=run["id"]) == 1
    # metered once, in the transaction that recorded the results: the run, its 800 scenarios, the engine's CPU time
    key = f"simulation_run:{run['id']}"
    assert await count_rows("usage_metered_usage", "transaction_id = :t AND quantity = 1", t=key) == 1
    assert await count_rows("usage_metered_usage", "transaction_id = :t AND quantity = 800", t=key + ":scenarios") == 1
    assert await count_rows("usage_metered_usage", "transaction_id = :t AND quantity > 0", t=key + ":cpu") == 1
    # and charged once: the hold its start made is settled, by one entry, at no more than it held
    assert (
        await count_rows("credit_holds", "subject = :s AND status = 'settled' AND settled_amount <= amount", s=key) == 1
    )
    assert await count_rows("tenant_credit_ledger", "idempotency_key = :k AND kind = 'settle'", k=f"settle:{key}") == 1


async def test_redis_restarted_during_a_run_the_page_shows_the_right_state_after_reconnect(
    private, factory, count_rows
):
    member = await factory.org_with_owner()
    with api_client(private.url, member) as http:
        url = _start(http, new_mission(http, member))
        run_id = url.rsplit("/", 1)[1]
        wait_for(http, url, lambda b: b["status"] == "running" and b["progress_percent"] >= 2)
        events: list[str] = []

        def listen():
            try:
                with http.stream("GET", f"/api/v1/simulations/{run_id}/subscribe", timeout=60) as response:
                    for line in response.iter_lines():
                        events.append(line)
            except httpx.HTTPError as exc:
                events.append(f"error: {exc}")

        reader = threading.Thread(target=listen)
        reader.start()
        time.sleep(1)
        private.redis_server.stop()
        private.redis_server.start()
        reader.join(30)
        assert not reader.is_alive(), "the stream must end when Redis goes away, so the browser reconnects"
        assert any(line.startswith("retry:") or line.startswith("error") for line in events), events

        # the browser's reconnect: the first event is the current state, read from Postgres
        with http.stream("GET", f"/api/v1/simulations/{run_id}/subscribe", timeout=60) as response:
            lines = response.iter_lines()
            first = next(line for line in lines if line.startswith("data: "))
        state = json.loads(first[6:])
        now = http.get(url).json()
        assert state["status"] in ("running", "succeeded") and state["progress"] <= now["progress_percent"]
        run = wait_for(http, url, final, timeout=240)
    assert run["status"] == "succeeded", run
    key = f"simulation_run:{run['id']}"  # metered and charged once, Redis restart or not
    assert await count_rows("usage_metered_usage", "transaction_id = :t", t=key) == 1
    assert await count_rows("tenant_credit_ledger", "idempotency_key = :k AND kind = 'settle'", k=f"settle:{key}") == 1
