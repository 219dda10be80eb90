"""The Procfile's processes in production mode, as an operator runs them against their own Postgres and Redis:
ready, `__Host-` cookies that are Secure, HSTS, and no start without a SECRET_KEY."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import httpx
import pytest

from tests.conftest import ROOT, Stack

pytestmark = pytest.mark.live


def test_production_processes_are_ready_with_secure_cookies_and_hsts():
    env = {
        "CLOSEDLOOP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "REDIS_NAMESPACE": f"prod-{secrets.token_hex(4)}",
        "BASE_URL": "https://closedloop.example.org",
    }
    with Stack(env, tag="-production") as stack:
        ready = httpx.get(stack.url + "/ready", timeout=10)
        assert ready.status_code == 200 and ready.json()["status"] == "ok"
        page = httpx.get(stack.url + "/login", timeout=10)
        cookies = page.headers.get_list("set-cookie")
        csrf = next(c for c in cookies if c.startswith("__Host-cl_csrf="))
        assert "Secure" in csrf and "HttpOnly" in csrf and "Path=/" in csrf and "Domain" not in csrf
        assert page.headers["Strict-Transport-Security"].startswith("max-age=")


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"} | {"CLOSEDLOOP_ENV": "production"}
    result = subprocess.run(
        [sys.executable, "-c", "import webapp.asgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "SECRET_KEY must be set in production" in result.stderr
