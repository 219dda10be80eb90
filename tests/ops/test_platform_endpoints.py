"""/health, /ready, /version, security headers."""

from __future__ import annotations

from webapp import create_app


async def test_health(client):
    response = await client.get("/health")
    assert response.status_code == 200 and await response.get_json() == {"status": "ok"}


async def test_ready_is_503_naming_the_missing_worker(settings):
    lonely = create_app(settings.with_overrides(redis_namespace="cltest-no-workers"))
    async with lonely.test_app():
        response = await lonely.test_client().get("/ready")
        body = await response.get_json()
    assert response.status_code == 503
    assert body["failed"] == ["worker"] and body["checks"]["database"] == "ok"


async def test_version_reports_code_and_database_revisions(client):
    body = await (await client.get("/version")).get_json()
    assert body["version"] == "0.1.0"
    assert body["migration_head"] and body["migration_head"] == body["database_revision"]
    assert body["migrations_current"] is True and body["git_sha"]


async def test_security_headers_on_pages(client):
    response = await client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Request-ID"]
    body = await response.get_data(as_text=True)
    assert "<script>" not in body and " onclick=" not in body  # no inline script anywhere


async def test_fragment_requests_vary_on_hx_request(client, factory):
    from tests.helpers import login

    member = await factory.org_with_owner()
    await login(client, member.email, member.password)
    full = await client.get(f"/o/{member.org_slug}/ops/check")
    assert "HX-Request" in full.headers["Vary"] and "<html" in await full.get_data(as_text=True)
