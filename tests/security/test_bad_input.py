"""Bad input gets the right status and a clear message, and writes nothing."""

from __future__ import annotations

import json

from tests.conftest import csrf_from
from tests.helpers import login


async def test_post_without_csrf_token_is_refused(client, factory, count_rows):
    member = await factory.org_with_owner()
    await login(client, member.email, member.password)
    before = await count_rows("system_checks")
    response = await client.post(f"/o/{member.org_slug}/ops/checks", form={"steps": "redis"})
    assert response.status_code == 403
    assert "form expired" in await response.get_data(as_text=True)
    assert await count_rows("system_checks") == before


async def test_post_with_wrong_csrf_token_is_refused(client, factory, count_rows):
    member = await factory.org_with_owner()
    await login(client, member.email, member.password)
    before = await count_rows("system_checks")
    response = await client.post(f"/o/{member.org_slug}/ops/checks", form={"csrf_token": "0" * 64})
    assert response.status_code == 403
    assert await count_rows("system_checks") == before


async def test_htmx_request_without_csrf_header_gets_a_fragment(client, factory, count_rows):
    member = await factory.org_with_owner()
    await login(client, member.email, member.password)
    before = await count_rows("system_checks")
    response = await client.post(f"/o/{member.org_slug}/ops/checks", headers={"HX-Request": "true"})
    body = await response.get_data(as_text=True)
    assert response.status_code == 403 and response.headers["HX-Retarget"] == "#toasts"
    assert "<html" not in body and "form expired" in body
    assert await count_rows("system_checks") == before


async def test_login_form_needs_csrf_too(client, factory, count_rows):
    member = await factory.org_with_owner()
    response = await client.post("/login", form={"email": member.email, "password": member.password})
    assert response.status_code == 403
    assert await count_rows("auth_sessions", "user_id = :u", u=member.id) == 0


async def test_unknown_org_slug_is_404(client, factory):
    member = await factory.org_with_owner()
    await login(client, member.email, member.password)
    response = await client.get("/o/no-such-org/")
    assert response.status_code == 404


async def test_another_orgs_slug_is_the_same_404(client, factory):
    mine = await factory.org_with_owner()
    theirs = await factory.org_with_owner()
    await login(client, mine.email, mine.password)
    await client.get(f"/o/{mine.org_slug}/")  # shows (and consumes) the welcome flash
    other = await client.get(f"/o/{theirs.org_slug}/")
    missing = await client.get("/o/zz-missing-org/")
    assert other.status_code == missing.status_code == 404
    strip = lambda html: html.replace(theirs.org_slug, "X").replace("zz-missing-org", "X")  # noqa: E731
    assert strip(await other.get_data(as_text=True)) == strip(await missing.get_data(as_text=True))


async def test_another_orgs_check_id_is_404_html_and_json(client, factory, maker):
    from sqlalchemy import text

    from tests.security.test_rls import _seed_checks

    mine = await factory.org_with_owner()
    theirs = await factory.org_with_owner()
    await _seed_checks(maker, theirs, 1)
    async with maker() as session:
        from webapp.core.tenancy import scope_session

        await session.begin()
        await scope_session(session, org_id=theirs.org_id)
        their_check = (await session.execute(text("SELECT id FROM system_checks"))).scalar_one()
    await login(client, mine.email, mine.password)
    html = await client.get(f"/o/{mine.org_slug}/ops/checks/{their_check}")
    api = await client.get(f"/api/v1/organizations/{mine.org_id}/system-checks/{their_check}")
    cross = await client.get(f"/api/v1/organizations/{theirs.org_id}/system-checks/{their_check}")
    assert html.status_code == api.status_code == cross.status_code == 404
    assert (await api.get_json())["error"] == "NotFound"


async def test_oversized_body_is_413(client, factory, count_rows, settings):
    member = await factory.org_with_owner()
    token = await login(client, member.email, member.password)
    before = await count_rows("system_checks")
    big = "x" * (settings.max_body_bytes + 10)
    response = await client.post(
        f"/api/v1/organizations/{member.org_id}/system-checks",
        data=json.dumps({"steps": ["redis"], "pad": big}),
        headers={"Content-Type": "application/json", "X-CSRF-Token": token},
    )
    assert response.status_code == 413
    assert (await response.get_json())["error"] == "PayloadTooLarge"
    assert await count_rows("system_checks") == before


async def test_malformed_form_values_are_422_with_field_details(client, factory, count_rows):
    member = await factory.org_with_owner()
    token = await login(client, member.email, member.password)
    before = await count_rows("system_checks")
    response = await client.post(
        f"/o/{member.org_slug}/ops/checks",
        form={"csrf_token": token, "steps": "coffee-machine"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 422
    body = await response.get_json()
    assert body["error"] == "ValidationError" and "coffee-machine" in body["details"]["fields"]["steps"][0]
    assert await count_rows("system_checks") == before


async def test_malformed_json_is_400(client, factory, count_rows):
    member = await factory.org_with_owner()
    token = await login(client, member.email, member.password)
    before = await count_rows("system_checks")
    url = f"/api/v1/organizations/{member.org_id}/system-checks"
    headers = {"Content-Type": "application/json", "X-CSRF-Token": token}
    for payload, message in [("{not json", "not valid JSON"), ("[1, 2]", "must be a JSON object"), ("", "empty")]:
        response = await client.post(url, data=payload, headers=headers)
        body = await response.get_json()
        assert response.status_code == 400, payload
        assert set(body) == {"error", "message", "details"} and message in body["message"]
    wrong_type = await client.post(url, data=json.dumps({"steps": "redis"}), headers=headers)
    assert wrong_type.status_code == 422
    assert "steps" in (await wrong_type.get_json())["details"]["fields"]
    assert await count_rows("system_checks") == before


async def test_json_api_without_session_is_401(client, factory):
    member = await factory.org_with_owner()
    response = await client.get(f"/api/v1/organizations/{member.org_id}/system-checks")
    assert response.status_code == 401
    assert (await response.get_json())["error"] == "Unauthorized"


async def test_viewer_cannot_start_a_check(client, factory, count_rows):
    from webapp.core.permissions import SystemRole

    owner = await factory.org_with_owner()
    viewer = await factory.member(owner, role=SystemRole.VIEWER)
    token = await login(client, viewer.email, viewer.password)
    before = await count_rows("system_checks")
    response = await client.post(f"/o/{owner.org_slug}/ops/checks", form={"csrf_token": token})
    assert response.status_code == 403
    assert await count_rows("system_checks") == before
    assert (await client.get(f"/o/{owner.org_slug}/ops/check")).status_code == 200


async def test_open_redirect_is_ignored(client, factory):
    member = await factory.org_with_owner()
    page = await client.get("/login?next=//evil.example/")
    token = csrf_from(await page.get_data(as_text=True))
    response = await client.post(
        "/login",
        form={"csrf_token": token, "email": member.email, "password": member.password, "next": "//evil.example/"},
    )
    assert response.status_code == 303 and "evil" not in response.headers["Location"]
