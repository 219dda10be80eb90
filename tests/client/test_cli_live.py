"""The `closedloop` command (clients/python) against the live app: log in, list, start a run and follow its progress
over server-sent events, download the results and the planned products, refresh an expired access token, log out."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from closedloop_client import ApiError, Client
from closedloop_client.types import RunState

from tests.simulations.test_runs_live import MISSION

pytestmark = pytest.mark.live

CLI = str(Path(sys.executable).parent / "closedloop")


def closedloop(config: Path, *args: str, password: str | None = None) -> subprocess.CompletedProcess:
    """Run the installed command as a user would, with its own credentials file and no terminal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEDLOOP_")}
    env["CLOSEDLOOP_CONFIG"] = str(config)
    return subprocess.run(
        [CLI, *args], input=(password + "\n") if password else "", capture_output=True, text=True, env=env, timeout=180
    )


async def test_the_command_logs_in_runs_a_plan_follows_it_and_downloads_it(live_stack, factory, tmp_path):
    member = await factory.org_with_owner(name="Jezero Works")
    config = tmp_path / "credentials.json"
    assert closedloop(config, "missions").returncode == 4  # not logged in yet

    signed_in = closedloop(
        config, "login", "--url", live_stack, "--email", member.email, "--organization", member.org_slug,
        password=member.password,
    )  # fmt: skip
    assert signed_in.returncode == 0, signed_in.stderr
    assert "Logged in to Jezero Works" in signed_in.stdout
    assert config.stat().st_mode & 0o077 == 0  # tokens readable by their owner only
    stored = json.loads(config.read_text())
    assert stored["tokens"]["organization_id"] == str(member.org_id)

    with Client(live_stack, tokens=stored["tokens"]) as client:
        mission = client.create_mission(member.org_slug, MISSION)
    listed = closedloop(config, "missions", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [m["name"] for m in json.loads(listed.stdout)] == ["Shackleton Base"]

    started = closedloop(config, "run", mission["id"], "--type", "throughput_optimization", "--target", "brick",
                         "--days", "12", "--follow")  # fmt: skip
    assert started.returncode == 0, started.stderr
    run_id = started.stderr.split("Run ", 1)[1].split(" ", 1)[0]
    progress = [line for line in started.stderr.splitlines() if line.startswith("[")]
    assert progress[-1].startswith("[####################] 100%  succeeded"), started.stderr
    assert started.stderr.splitlines()[-1].startswith("succeeded")  # the summary line after the bar

    out = tmp_path / "run.json"
    downloaded = closedloop(config, "results", run_id, "-o", str(out))
    assert downloaded.returncode == 0, downloaded.stderr
    run = json.loads(out.read_text())
    assert run["status"] == "succeeded" and run["config"]["time_horizon_days"] == 12
    assert len(run["results"]["inventory"]["food_packaging"]) == 12 and run["results"]["kpis"]["target_kg"] > 0

    products = closedloop(config, "products", "--mission", mission["id"], "--kind", "planned", "--csv")
    assert products.returncode == 0, products.stderr
    rows = list(csv.DictReader(io.StringIO(products.stdout)))
    bricks = sum(float(r["quantity_kg"]) for r in rows if r["product_type"] == "brick")
    assert bricks == pytest.approx(run["results"]["kpis"]["target_kg"], abs=0.01 * 12)

    # an access token that no longer works is refreshed with the stored refresh token, and the new pair kept
    stored = json.loads(config.read_text())
    stored["tokens"]["access_token"] = "cl_at_expired"
    config.write_text(json.dumps(stored))
    again = closedloop(config, "runs", mission["id"], "--json")
    assert again.returncode == 0, again.stderr
    assert [r["id"] for r in json.loads(again.stdout)] == [run_id]
    fresh = json.loads(config.read_text())["tokens"]
    assert fresh["access_token"] != "cl_at_expired" and fresh["refresh_token"] != stored["tokens"]["refresh_token"]

    assert closedloop(config, "logout").returncode == 0
    assert not config.exists()
    with Client(live_stack, tokens=fresh) as client, pytest.raises(ApiError) as refused:
        client.organization()  # the login ended on the server: neither token works any more
    assert refused.value.status == 401


async def test_the_client_follows_a_run_live_and_reports_errors_typed(live_stack, factory):
    member = await factory.org_with_owner()
    with Client.login(live_stack, member.email, member.password, str(member.org_id)) as client:
        assert client.organization()["slug"] == member.org_slug
        mission = client.create_mission(member.org_slug, MISSION)
        run = client.start_run(mission["id"], "monte_carlo", {"scenarios": 60, "time_horizon_days": 10})
        assert run["status"] == "queued"
        states: list[RunState] = list(client.follow_run(run["id"]))
        assert set(states[0]) == set(RunState.__annotations__)  # the stream's events have the documented fields
        assert states[-1]["finished"] and states[-1]["progress"] == 100
        assert [s["progress"] for s in states] == sorted(s["progress"] for s in states)
        done = client.run(run["id"])
        assert done["status"] == "succeeded" and done["results"]["monte_carlo"]
        assert [line["message"] for line in client.run_logs(run["id"])][-1].startswith("Finished:")

        with pytest.raises(ApiError) as invalid:
            client.start_run(mission["id"], "monte_carlo", {"scenarios": 0})
        assert invalid.value.status == 422 and "config.scenarios" in invalid.value.details["fields"]
        with pytest.raises(ApiError) as missing:
            client.mission("0190f0f0-0000-7000-8000-000000000000")
        assert missing.value.status == 404 and missing.value.error == "NotFound"
