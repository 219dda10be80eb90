"""Sign-up, email verification and password reset end to end, with mail delivered over real SMTP."""

from __future__ import annotations

import asyncio
import secrets
import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from tests.conftest import csrf_from
from tests.helpers import login


async def _wait_for_rows(count_rows, table: str, where: str, timeout: float = 20) -> int:
    """Rows matching `where`, waiting (for a worker) until there is at least one."""
    deadline = time.monotonic() + timeout
    while (found := await count_rows(table, where)) == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return found


async def _csrf(client, path: str = "/login") -> str:
    return csrf_from(await (await client.get(path)).get_data(as_text=True))


def _signup_form(token: str, **overrides) -> dict:
    suffix = secrets.token_hex(4)
    form = {
        "csrf_token": token,
        "name": "Ada Okafor",
        "email": f"ada-{suffix}@example.org",
        "password": "regolith sintering at dawn",
        "org_name": "Shackleton Rim Base",
        "org_slug": f"rim-{suffix}",
        "accept_terms": "y",
    }
    form.update(overrides)
    return form


async def _follow_token_link(client, link: str) -> tuple[int, str]:
    """GET the emailed link (shows a confirm button), then POST the form it shows."""
    url = urlsplit(link)
    page = await client.get(f"{url.path}?{url.query}")
    body = await page.get_data(as_text=True)
    token = (
        body.split('name="token" type="hidden" value="')[1].split('"')[0]
        if 'name="token" type="hidden"' in body
        else body.split('id="token" name="token" type="hidden" value="')[1].split('"')[0]
    )
    response = await client.post(url.path, form={"csrf_token": csrf_from(body), "token": token})
    return response.status_code, await response.get_data(as_text=True)


async def test_sign_up_creates_owner_org_and_verifies_email_once(client, mailbox, deliver, count_rows, owner_engine):
    form = _signup_form(await _csrf(client, "/signup"))
    response = await client.post("/signup", form=form)
    assert response.status_code == 303 and response.headers["Location"] == f"/o/{form['org_slug']}/"
    home = await client.get(response.headers["Location"])
    assert home.status_code == 200 and "Shackleton Rim Base" in await home.get_data(as_text=True)
    async with owner_engine.connect() as conn:
        role, verified = (
            await conn.execute(
                text(
                    "SELECT r.key, u.email_verified_at FROM users u JOIN memberships m ON m.user_id = u.id "
                    "JOIN roles r ON r.id = m.role_id "
                    "WHERE u.email = :e"
                ),
                {"e": form["email"]},
            )
        ).one()
    assert role == "owner" and verified is None
    assert (
        await count_rows("audit_logs", "action = 'organization.create' AND after->>'slug' = :s", s=form["org_slug"])
        == 1
    )

    await deliver()
    email = await mailbox.wait_for(form["email"], "Confirm your email")
    link = email.link("/verify-email")
    assert link in email.html  # the HTML part carries the same link

    status, _ = await _follow_token_link(client, link)
    assert status == 303
    async with owner_engine.connect() as conn:
        verified = (
            await conn.execute(text("SELECT email_verified_at FROM users WHERE email = :e"), {"e": form["email"]})
        ).scalar_one()
    assert verified is not None
    status, body = await _follow_token_link(client, link)  # the same link again
    assert status == 400 and "already used" in body


async def test_sign_up_refuses_bad_input_and_writes_nothing(client, factory, count_rows):
    taken = await factory.org_with_owner()
    token = await _csrf(client, "/signup")
    cases = [
        (_signup_form(token, password="password1"), 422, "too common"),
        (_signup_form(token, password="short"), 422, "at least 8"),
        (_signup_form(token, email="not-an-address"), 422, "email"),
        (_signup_form(token, name="x" * 121), 422, "120"),
        (_signup_form(token, org_slug="Bad Slug!"), 422, "lower-case"),
        (_signup_form(token, email=taken.email), 409, "already exists"),
        (_signup_form(token, org_slug=taken.org_slug), 409, "taken"),
        (_signup_form(token, csrf_token="forged"), 403, "CSRF"),
    ]
    users_before = await count_rows("users")
    orgs_before = await count_rows("organizations")
    for form, status, message in cases:
        response = await client.post("/signup", form=form)
        body = await response.get_data(as_text=True)
        assert response.status_code == status, (form, body[:300])
        assert message.lower() in body.lower(), (message, form)
    assert await count_rows("users") == users_before
    assert await count_rows("organizations") == orgs_before


@pytest.mark.live
async def test_password_reset_changes_password_ends_sessions_and_cannot_be_replayed(
    app, client, factory, mailbox, deliver, count_rows, live_stack
):
    member = await factory.org_with_owner()
    other_device = app.test_client()
    await login(other_device, member.email, member.password)
    assert (await other_device.get(f"/o/{member.org_slug}/")).status_code == 200

    token = await _csrf(client, "/forgot-password")
    response = await client.post("/forgot-password", form={"csrf_token": token, "email": member.email})
    assert response.status_code == 303  # POST-redirect-GET: a reload does not send a second link
    sent = await client.get(response.headers["Location"])
    assert "we just sent it a link" in await sent.get_data(as_text=True)
    link = (await mailbox.wait_for(member.email, "Reset your")).link("/reset-password")

    url = urlsplit(link)
    page = await (await client.get(f"{url.path}?{url.query}")).get_data(as_text=True)
    raw = url.query.split("token=")[1]
    form = {"csrf_token": csrf_from(page), "token": raw, "password": "new basalt fibre spool", "confirm": "nope"}
    response = await client.post("/reset-password", form=form)
    assert response.status_code == 422 and "differ" in await response.get_data(as_text=True)
    response = await client.post("/reset-password", form=dict(form, confirm=form["password"]))
    assert response.status_code == 303 and response.headers["Location"] == "/login"

    assert (await other_device.get(f"/o/{member.org_slug}/")).status_code == 302  # signed out everywhere
    assert await count_rows("auth_sessions", "user_id = :u AND revoked_at IS NULL", u=member.id) == 0
    replay = await client.post("/reset-password", form=dict(form, confirm=form["password"], password=form["password"]))
    assert replay.status_code == 400 and "already used" in await replay.get_data(as_text=True)
    fresh = app.test_client()
    await login(fresh, member.email, "new basalt fibre spool")
    await deliver()
    assert "was just changed" in (await mailbox.wait_for(member.email, "password was changed")).text


@pytest.mark.live
async def test_reset_for_unknown_email_answers_the_same_and_sends_nothing(
    client, factory, mailbox, count_rows, live_stack
):
    member = await factory.org_with_owner()
    address = f"nobody-{secrets.token_hex(4)}@example.org"
    answers = []
    for email in (address, member.email):
        token = await _csrf(client, "/forgot-password")
        response = await client.post("/forgot-password", form={"csrf_token": token, "email": email})
        answers.append(
            (
                response.status_code,
                response.headers["Location"],
                await (await client.get(response.headers["Location"])).get_data(as_text=True),
            )
        )
    assert answers[0] == answers[1] and answers[0][:2] == (303, "/forgot-password?sent=1")
    await mailbox.wait_for(member.email, "Reset your")  # the worker has looked both up (in order) by now
    assert (
        await _wait_for_rows(
            count_rows, "security_events", "event_type = 'password.reset_requested' AND metadata->>'known' = 'false'"
        )
        >= 1
    )
    assert mailbox.to(address) == []
    assert await count_rows("email_outbox", "to_address = :a", a=address) == 0


@pytest.mark.live
async def test_expired_reset_link_is_refused(client, factory, mailbox, owner_engine, live_stack):
    member = await factory.org_with_owner()
    token = await _csrf(client, "/forgot-password")
    await client.post("/forgot-password", form={"csrf_token": token, "email": member.email})
    raw = (await mailbox.wait_for(member.email, "Reset your")).link("/reset-password").split("token=")[1]
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE email_tokens SET expires_at = now() - interval '1 minute' "
                "WHERE user_id = :u AND purpose = 'reset_password'"
            ),
            {"u": member.id},
        )
    page = await (await client.get(f"/reset-password?token={raw}")).get_data(as_text=True)
    response = await client.post(
        "/reset-password",
        form={
            "csrf_token": csrf_from(page),
            "token": raw,
            "password": "fresh regolith brick",
            "confirm": "fresh regolith brick",
        },
    )
    assert response.status_code == 400 and "expired" in await response.get_data(as_text=True)
    await login(client, member.email, member.password)  # the old password still works
