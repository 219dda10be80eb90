"""Schemathesis over the live app (real uvicorn, worker and Postgres): every check it has, the stateful phase that
follows links from creates to reads included, with our one replacement for `positive_data_acceptance`
(tests/api/schemathesis_hooks.py says why). Any finding fails the suite; the whole report is kept in test-output/.

SCHEMATHESIS_SEED and SCHEMATHESIS_MAX_EXAMPLES widen a run by hand; the suite's run is fixed, so CI is repeatable.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import OUTPUT, ROOT, Stack, csrf_from

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def own_stack():
    """A stack of its own (its own task stream): the simulations schemathesis starts — Monte Carlo runs of
    thousands of scenarios among them — keep this worker busy, not the one the other live tests wait on."""
    with Stack({"REDIS_NAMESPACE": f"schemathesis-{secrets.token_hex(4)}"}, tag="-schemathesis") as stack:
        yield stack.url


@pytest.fixture
async def finish_runs(owner_engine):
    """Afterwards, end the runs the organization left queued or running: with this stack gone, the shared
    reaper would otherwise hand them to the other tests' worker."""
    orgs: list[str] = []
    yield orgs.append
    async with owner_engine.begin() as conn:
        for org in orgs:
            await conn.execute(
                text(
                    "UPDATE simulation_runs SET status = 'cancelled', finished_at = now(), "
                    "cancel_requested_at = now(), "
                    "progress_message = 'Ended by the test.' WHERE organization_id = :o AND status IN "
                    "('queued', 'running')"
                ),
                {"o": org},
            )


SEED = os.environ.get("SCHEMATHESIS_SEED", "1")
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25")


def _schemathesis(base: str, token: str, org_id: str, protected: list[str], name: str, *extra: str) -> None:
    config = OUTPUT / f"schemathesis-{name}.toml"
    config.write_text(f'[parameters]\norg_id = "{org_id}"\n')
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--no-color",
        "--config-file",
        str(config),
        "run",
        f"{base}/api/v1/openapi.json",
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
        "-H",
        f"Authorization: Bearer {token}",
        "--max-examples",
        MAX_EXAMPLES,
        "--seed",
        SEED,
        # one thread: CPython 3.11 before 3.11.8 can fail `ast.parse` when two threads parse at once
        # (gh-106905, "AST constructor recursion depth mismatch"), and hypothesis parses lambdas while it draws
        "--workers",
        "1",
        "--report",
        "junit",
        "--report-dir",
        str(OUTPUT / f"schemathesis-{name}"),
        *extra,
    ]
    env = dict(os.environ, SCHEMATHESIS_HOOKS="tests.api.schemathesis_hooks", CL_PROTECTED_IDS=",".join(protected))
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    report = result.stdout + result.stderr
    (OUTPUT / f"schemathesis-{name}.txt").write_text(report)
    assert result.returncode == 0, (
        f"schemathesis found problems (test-output/schemathesis-{name}.txt):\n" + report[-6000:]
    )
    assert "Tested:" in report and " passed" in report  # operations really ran


async def test_schemathesis_finds_nothing_with_an_api_key(own_stack, factory, finish_runs):
    owner = await factory.org_with_owner(name="Contract Works")
    finish_runs(str(owner.org_id))
    with httpx.Client(base_url=own_stack, timeout=20) as http:
        token = csrf_from(http.get("/login").text)
        http.post("/login", data={"csrf_token": token, "email": owner.email, "password": owner.password})
        token = csrf_from(http.get("/me").text)
        # everything but deleting the organization the run works in
        permissions = [p["name"] for p in http.get("/api/v1/permissions").json()["items"] if p["name"] != "org:delete"]
        created = http.post(
            f"/api/v1/organizations/{owner.org_id}/api-keys",
            headers={"X-CSRF-Token": token},
            json={"name": "schemathesis", "permissions": permissions},
        ).json()
    _schemathesis(own_stack, created["key"], str(owner.org_id), [created["id"]], "api-key")


async def test_schemathesis_finds_nothing_on_account_routes_with_an_access_token(own_stack, factory):
    owner = await factory.org_with_owner(name="Contract Accounts")
    tokens = httpx.post(
        f"{own_stack}/api/v1/auth/login",
        json={"email": owner.email, "password": owner.password, "organization": owner.org_slug},
    ).json()
    # the account's own routes (API keys may not use them); logging out would end the run's own access
    _schemathesis(
        own_stack,
        tokens["access_token"],
        str(owner.org_id),
        [tokens["session_id"]],
        "access-token",
        "--include-path-regex",
        "^/api/v1/(me|auth)",
        "--exclude-path",
        "/api/v1/auth/logout",
    )
