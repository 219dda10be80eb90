"""Sessions live server-side: logout, revocation, idle and absolute timeouts, tampered cookies."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import csrf_from
from tests.helpers import login


async def _session_id(owner_engine, user_id):
    async with owner_engine.connect() as conn:
        return (
            await conn.execute(
                text(
                    "SELECT id FROM auth_sessions WHERE user_id = :u AND revoked_at IS NULL "
                    "ORDER BY created_at DESC LIMIT 1"
                ),
                {"u": user_id},
            )
        ).scalar_one()


async def _exec(owner_engine, sql, **params):
    async with owner_engine.begin() as conn:
        await conn.execute(text(sql), params)


async def test_login_creates_a_hashed_server_side_session(client, factory, owner_engine, app):
    member = await factory.org_with_owner()
    await login(client, member.email, member.password)
    cookie = _cookie_value(client, app.config["QUART_AUTH_COOKIE_NAME"])
    async with owner_engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT token_hash, expires_at - created_at FROM auth_sessions WHERE user_id = :u"),
                {"u": member.id},
            )
        ).one()
    assert len(row[0]) == 32  # SHA-256 of the token, never the token
    assert row[0].hex() not in cookie and abs(row[1].total_seconds() - 8 * 3600) < 60
    home = await client.get(f"/o/{member.org_slug}/")
    assert home.status_code == 200


async def test_logout_ends_the_session_server_side(client, factory, owner_engine, app):
    member = await factory.org_with_owner()
    token = await login(client, member.email, member.password)
    cookie_name = app.config["QUART_AUTH_COOKIE_NAME"]
    stolen = _cookie_value(client, cookie_name)
    response = await client.post("/logout", form={"csrf_token": token})
    assert response.status_code == 303
    async with owner_engine.connect() as conn:
        revoked = (
            await conn.execute(text("SELECT revoked_reason FROM auth_sessions WHERE user_id = :u"), {"u": member.id})
        ).scalar_one()
    assert revoked == "logout"
    assert await _sent_to_login(app, cookie_name, stolen, member.org_slug)  # replaying the old cookie fails


async def test_revoked_session_is_refused(client, factory, owner_engine):
    member = await factory.org_with_owner()
    await login(client, member.email, member.password)
    sid = await _session_id(owner_engine, member.id)
    await _exec(
        owner_engine, "UPDATE auth_sessions SET revoked_at = now(), revoked_reason = 'admin' WHERE id = :i", i=sid
    )
    page = await client.get(f"/o/{member.org_slug}/")
    assert page.status_code == 302 and "/login" in page.headers["Location"]


async def _aged_session(client, factory, owner_engine, assignment: str):
    """Sign in, then move one of the session's timestamps; returns (member, session id)."""
    member = await factory.org_with_owner()
    await login(client, member.email, member.password)
    sid = await _session_id(owner_engine, member.id)
    await _exec(owner_engine, f"UPDATE auth_sessions SET {assignment} WHERE id = :i", i=sid)
    return member, sid


async def _revoked_reason(owner_engine, sid):
    async with owner_engine.connect() as conn:
        return (
            await conn.execute(text("SELECT revoked_reason FROM auth_sessions WHERE id = :i"), {"i": sid})
        ).scalar_one()


async def test_idle_timeout(client, factory, owner_engine):
    member, sid = await _aged_session(client, factory, owner_engine, "last_seen_at = now() - interval '31 minutes'")
    page = await client.get(f"/o/{member.org_slug}/")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    assert await _revoked_reason(owner_engine, sid) == "idle"


async def test_activity_keeps_an_idle_session_alive(client, factory, owner_engine):
    member, sid = await _aged_session(client, factory, owner_engine, "last_seen_at = now() - interval '29 minutes'")
    assert (await client.get(f"/o/{member.org_slug}/")).status_code == 200
    async with owner_engine.connect() as conn:
        age = (
            await conn.execute(text("SELECT now() - last_seen_at FROM auth_sessions WHERE id = :i"), {"i": sid})
        ).scalar_one()
    assert age.total_seconds() < 60
    assert await _revoked_reason(owner_engine, sid) is None


async def test_absolute_timeout(client, factory, owner_engine):
    member, sid = await _aged_session(client, factory, owner_engine, "expires_at = now() - interval '1 second'")
    page = await client.get(f"/o/{member.org_slug}/")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    assert await _revoked_reason(owner_engine, sid) == "expired"


async def test_tampered_cookie_is_refused(client, factory, app):
    member = await factory.org_with_owner()
    await login(client, member.email, member.password)
    cookie_name = app.config["QUART_AUTH_COOKIE_NAME"]
    value = _cookie_value(client, cookie_name)
    # one signature character changed (not the last: base64's padding bits may make two last characters equal)
    tampered = value[:-8] + ("A" if value[-8] != "A" else "B") + value[-7:]
    assert await _sent_to_login(app, cookie_name, tampered, member.org_slug)


async def test_wrong_password_is_refused_and_audited(client, factory, count_rows):
    member = await factory.org_with_owner()
    page = await client.get("/login")
    token = csrf_from(await page.get_data(as_text=True))
    before = await count_rows("auth_sessions", "user_id = :u", u=member.id)
    response = await client.post(
        "/login", form={"csrf_token": token, "email": member.email, "password": "nope-nope-nope"}
    )
    assert response.status_code == 401
    assert "do not match" in await response.get_data(as_text=True)
    assert await count_rows("auth_sessions", "user_id = :u", u=member.id) == before
    assert await count_rows("security_events", "event_type = 'login.failed' AND user_id = :u", u=member.id) == 1


async def test_cookie_flags(client, factory, app):
    member = await factory.org_with_owner()
    page = await client.get("/login")
    token = csrf_from(await page.get_data(as_text=True))
    response = await client.post(
        "/login", form={"csrf_token": token, "email": member.email, "password": member.password}
    )
    cookies = response.headers.get_all("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith(app.config["QUART_AUTH_COOKIE_NAME"] + "="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    # a browser-session cookie; the server enforces the 8 h absolute lifetime (never Quart-Auth's 1-year default)
    assert "Max-Age" not in session_cookie and "Expires" not in session_cookie


async def _sent_to_login(app, cookie_name: str, value: str, org_slug: str) -> bool:
    """A fresh client presenting only this cookie is redirected to sign in."""
    other = app.test_client()
    other.set_cookie("localhost", cookie_name, value)
    page = await other.get(f"/o/{org_slug}/")
    return page.status_code == 302 and "/login" in page.headers["Location"]


def _cookie_value(client, name: str) -> str:
    for cookie in client.cookie_jar:
        if cookie.name == name:
            return cookie.value
    raise AssertionError(f"no {name} cookie")
