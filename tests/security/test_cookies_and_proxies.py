"""Cookie attributes, CSRF rotation at sign-in, and whose X-Forwarded-For is believed."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import csrf_from


def _set_cookies(response) -> dict[str, str]:
    """name -> the whole Set-Cookie line."""
    return {line.split("=", 1)[0]: line for line in response.headers.getlist("Set-Cookie")}


async def test_flash_cookie_is_lax_and_http_only(client, factory):
    member = await factory.org_with_owner()
    token = csrf_from(await (await client.get("/login")).get_data(as_text=True))
    response = await client.post(
        "/login", form={"csrf_token": token, "email": member.email, "password": member.password}
    )
    flash_cookie = _set_cookies(response)["cl_flash"]  # "Welcome back" waits in it for the next page
    assert "SameSite=Lax" in flash_cookie and "HttpOnly" in flash_cookie and "Path=/" in flash_cookie


async def test_sign_in_rotates_the_csrf_seed(client, factory, count_rows):
    member = await factory.org_with_owner()
    before = csrf_from(await (await client.get("/login")).get_data(as_text=True))
    response = await client.post(
        "/login", form={"csrf_token": before, "email": member.email, "password": member.password}
    )
    assert response.status_code == 303 and "cl_csrf" in _set_cookies(response)
    after = csrf_from(await (await client.get(f"/o/{member.org_slug}/missions")).get_data(as_text=True))
    assert after != before
    planted = await client.post(f"/o/{member.org_slug}/missions", form={"csrf_token": before, "name": "Planted"})
    assert planted.status_code == 403  # a token learnt before sign-in is worth nothing after it
    assert await count_rows("missions", "name = 'Planted'") == 0


async def _sign_in_over(transport, member, forwarded_for: str) -> None:
    async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as http:
        token = csrf_from((await http.get("/login")).text)
        response = await http.post(
            "/login",
            data={"csrf_token": token, "email": member.email, "password": member.password},
            headers={"X-Forwarded-For": forwarded_for},
        )
        assert response.status_code == 303


async def _session_ips(owner_engine, member) -> set[str]:
    async with owner_engine.connect() as conn:
        rows = await conn.execute(text("SELECT host(ip) FROM auth_sessions WHERE user_id = :u"), {"u": member.id})
        return {row[0] for row in rows}


@pytest.mark.parametrize("trusted, expected", [("", "127.0.0.1"), ("127.0.0.1", "203.0.113.9")])
async def test_x_forwarded_for_counts_only_from_trusted_proxies(
    app, factory, owner_engine, settings, trusted, expected
):
    from webapp.asgi import build

    member = await factory.org_with_owner()
    app.extensions["closedloop"]["settings"] = settings.with_overrides(trusted_proxies=trusted)
    try:
        transport = httpx.ASGITransport(app=build(app), client=("127.0.0.1", 40000))
        await _sign_in_over(transport, member, "203.0.113.9")
    finally:
        app.extensions["closedloop"]["settings"] = settings
    assert await _session_ips(owner_engine, member) == {expected}
