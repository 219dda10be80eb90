"""Sign-in throttling slows guessers down without letting them lock the owner out."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.conftest import csrf_from


def _from(ip: str) -> dict:
    return {"scope_base": {"client": (ip, 40000)}}


async def _attempt(client, email: str, password: str, ip: str):
    page = await client.get("/login", **_from(ip))
    token = csrf_from(await page.get_data(as_text=True))
    return await client.post("/login", form={"csrf_token": token, "email": email, "password": password}, **_from(ip))


async def test_guessing_from_one_address_is_throttled_there_only(app, factory, count_rows, settings):
    member = await factory.org_with_owner()
    attacker, owner = app.test_client(), app.test_client()
    for _ in range(settings.login_max_failures_per_account_ip):
        assert (await _attempt(attacker, member.email, "wrong-guess-123", "198.51.100.7")).status_code == 401
    blocked = await _attempt(attacker, member.email, member.password, "198.51.100.7")  # even the right password
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 15 * 60
    assert "Too many failed sign-ins from here" in await blocked.get_data(as_text=True)
    assert await count_rows("auth_sessions", "user_id = :u", u=member.id) == 0
    assert await count_rows("security_events", "event_type = 'login.throttled' AND ip = '198.51.100.7'") == 1

    signed_in = await _attempt(owner, member.email, member.password, "203.0.113.20")  # the owner, elsewhere
    assert signed_in.status_code == 303


@pytest.fixture
async def strict_app(settings):
    """An app whose account-wide limit is low enough to reach from a handful of addresses."""
    from webapp import create_app

    application = create_app(settings.with_overrides(login_max_failures_per_account=3, login_lock_minutes=15))
    async with application.test_app():
        yield application


async def test_distributed_guessing_locks_briefly_and_the_owner_can_unlock_by_email(
    strict_app, factory, mailbox, deliver, count_rows
):
    member = await factory.org_with_owner()
    client = strict_app.test_client()
    for n in range(4):  # four addresses, one failure each: crosses the account-wide limit of 3
        await _attempt(client, member.email, "wrong-guess-123", f"192.0.2.{n + 10}")
    locked = await _attempt(client, member.email, member.password, "203.0.113.99")
    assert locked.status_code == 429 and "locked" in await locked.get_data(as_text=True)
    assert await count_rows("security_events", "event_type = 'account.locked' AND user_id = :u", u=member.id) == 1

    await deliver()
    link = (await mailbox.wait_for(member.email, "is locked")).link("/unlock")
    url = urlsplit(link)
    page = await (await client.get(f"{url.path}?{url.query}")).get_data(as_text=True)
    unlocked = await client.post("/unlock", form={"csrf_token": csrf_from(page), "token": url.query.split("token=")[1]})
    assert unlocked.status_code == 303
    assert (await _attempt(client, member.email, member.password, "203.0.113.99")).status_code == 303


async def test_unknown_accounts_are_throttled_the_same_way(app):
    client = app.test_client()
    email = "nobody-here@example.org"
    statuses = [(await _attempt(client, email, "guess-guess-1", "198.51.100.50")).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]  # no difference that would reveal whether the account exists


async def test_sign_ups_from_one_address_are_limited(app, settings, count_rows):
    client = app.test_client()
    ip = "198.51.100.200"
    statuses = []
    for n in range(settings.signups_per_ip_hour + 1):
        page = await client.get("/signup", **_from(ip))
        form = {
            "csrf_token": csrf_from(await page.get_data(as_text=True)),
            "name": "Flood",
            "password": "password",
            "email": f"flood-{n}@example.org",
            "org_name": "Flood",
            "org_slug": f"flood-{n}-x",
            "accept_terms": "y",
        }
        statuses.append((await client.post("/signup", form=form, **_from(ip))).status_code)
    assert statuses == [422] * settings.signups_per_ip_hour + [429]  # common password: refused, but counted
    assert await count_rows("users", "email LIKE 'flood-%'") == 0
