"""The system check end to end on real processes: web (uvicorn), taskiq worker and scheduler."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from tests.conftest import csrf_from

pytestmark = pytest.mark.live


def _login(http: httpx.Client, email: str, password: str) -> str:
    token = csrf_from(http.get("/login").text)
    response = http.post("/login", data={"csrf_token": token, "email": email, "password": password})
    assert response.status_code == 303
    return csrf_from(http.get("/me").text)  # sign-in rotated the CSRF seed


def _wait_final(http: httpx.Client, url: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = http.get(url).json()
        if body["status"] in ("succeeded", "failed"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"check did not finish: {body}")


def _sse_events(http: httpx.Client, url: str, limit: int = 50, timeout: float = 30) -> list[tuple[str, str]]:
    events, event, data = [], None, []
    with http.stream("GET", url, timeout=timeout) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and event:
                events.append((event, "\n".join(data)))
                if event == "done" or len(events) >= limit:
                    break
                event, data = None, []
    return events


async def test_check_runs_on_a_worker_and_reaches_100(live_stack, factory, count_rows):
    member = await factory.org_with_owner()
    with httpx.Client(base_url=live_stack, timeout=10) as http:
        token = _login(http, member.email, member.password)
        created = http.post(
            f"/api/v1/organizations/{member.org_id}/system-checks", json={}, headers={"X-CSRF-Token": token}
        )
        assert created.status_code == 201, created.text
        location = created.headers["Location"]
        assert created.json()["status"] == "queued" and created.json()["progress"] == 0
        final = _wait_final(http, location)
    assert final["status"] == "succeeded", final
    assert final["progress"] == 100 and final["attempt"] == 1
    assert [s["name"] for s in final["steps"]] == ["postgres", "redis", "worker", "scheduler"]
    assert all(s["status"] == "ok" and s["detail"] for s in final["steps"])
    assert "RLS enforced" in final["steps"][0]["detail"]
    # persisted, not only published
    assert (
        await count_rows(
            "system_checks",
            "id = :i AND progress = 100 AND status = 'succeeded' AND finished_at IS NOT NULL",
            i=final["id"],
        )
        == 1
    )


async def test_live_subscriber_sees_progress_and_late_subscriber_gets_current_state_first(live_stack, factory):
    member = await factory.org_with_owner()
    with httpx.Client(base_url=live_stack, timeout=10) as http:
        token = _login(http, member.email, member.password)
        created = http.post(f"/o/{member.org_slug}/ops/checks", data={"csrf_token": token})
        assert created.status_code == 303
        check_url = created.headers["Location"]
        events = _sse_events(http, check_url + "/events")
        states = [json.loads(d) for e, d in events if e == "state"]
        assert states, events
        assert states[-1]["progress"] == 100 and states[-1]["finished"]
        assert [s["progress"] for s in states] == sorted(s["progress"] for s in states)
        assert events[-1][0] == "done"

        # after the fact: the first event is the persisted final state, then the stream closes
        late = _sse_events(http, check_url + "/events")
        assert late[0][0] == "progress" and 'value="100"' in late[0][1]
        assert json.loads(late[1][1])["progress"] == 100
        assert late[-1][0] == "done" and len(late) == 3

        # polling fallback: the fragment, and 286 once final so htmx stops polling
        poll = http.get(check_url + "/progress", headers={"HX-Request": "true"})
        assert poll.status_code == 286 and 'value="100"' in poll.text
        page = http.get(check_url)
        assert re.search(r"sse-connect", page.text) is None  # finished: nothing left to stream


async def test_ready_reports_the_live_worker(live_stack):
    body = httpx.get(live_stack + "/ready").json()
    assert body["status"] == "ok" and body["checks"]["worker"].endswith("alive")


async def test_metrics_expose_requests_queue_and_job_durations(live_stack, factory):
    member = await factory.org_with_owner()
    with httpx.Client(base_url=live_stack, timeout=10) as http:
        token = _login(http, member.email, member.password)
        created = http.post(
            f"/api/v1/organizations/{member.org_id}/system-checks",
            json={"steps": ["redis"]},
            headers={"X-CSRF-Token": token},
        )
        _wait_final(http, created.headers["Location"])
        text = http.get("/metrics").text
    assert 'closedloop_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/login"}' in text
    assert re.search(r'closedloop_http_requests_total\{method="POST",route="/login",status="303"\} [1-9]', text)
    assert 'closedloop_queue_depth{state="in_progress"}' in text
    assert re.search(r'closedloop_job_duration_seconds_count\{task="ops.run_system_check"\} [1-9]', text)
