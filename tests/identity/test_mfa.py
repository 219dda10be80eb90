"""TOTP enrolment, the sign-in challenge, replay and recovery codes, and organizations that require MFA."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import text

from tests.conftest import csrf_from
from tests.helpers import login


async def _enrol(client, password: str) -> tuple[str, list[str]]:
    page = await (await client.get("/me/security")).get_data(as_text=True)
    assert 'src="data:image/svg+xml' in page  # the QR code is rendered server-side
    secret = re.search(r'class="secret-key">([A-Z2-7]+)<', page).group(1)
    sealed = re.search(r'name="sealed" type="hidden" value="([^"]+)"', page).group(1)
    form = {"csrf_token": csrf_from(page), "sealed": sealed, "code": pyotp.TOTP(secret).now(), "password": password}

    wrong_code = await client.post("/me/security/mfa/enable", form=dict(form, code="000000"))
    assert wrong_code.status_code == 422 and "does not match" in await wrong_code.get_data(as_text=True)
    wrong_password = await client.post("/me/security/mfa/enable", form=dict(form, password="not-my-password"))
    assert wrong_password.status_code == 422 and "not your current password" in await wrong_password.get_data(
        as_text=True
    )
    tampered = await client.post("/me/security/mfa/enable", form=dict(form, sealed=sealed[:-4] + "AAAA"))
    assert tampered.status_code == 400

    done = await client.post("/me/security/mfa/enable", form=form)
    body = await done.get_data(as_text=True)
    assert done.status_code == 200 and "shown only once" in body
    codes = re.findall(r"<code>([a-z2-7]{5}-[a-z2-7]{5})</code>", body)
    assert len(codes) == 10
    return secret, codes


async def _password_step(client, email: str, password: str):
    page = await client.get("/login")
    return await client.post(
        "/login",
        form={"csrf_token": csrf_from(await page.get_data(as_text=True)), "email": email, "password": password},
    )


async def _code_step(client, code: str):
    page = await client.get("/login/mfa")
    return await client.post(
        "/login/mfa", form={"csrf_token": csrf_from(await page.get_data(as_text=True)), "code": code}
    )


async def test_enrol_then_sign_in_needs_a_fresh_code(app, client, factory, count_rows, owner_engine):
    member = await factory.org_with_owner()
    await login(client, member.email, member.password)
    secret, codes = await _enrol(client, member.password)
    assert await count_rows("security_events", "event_type = 'mfa.enrolled' AND user_id = :u", u=member.id) == 1
    async with owner_engine.connect() as conn:
        stored = (await conn.execute(text("SELECT mfa_secret FROM users WHERE id = :u"), {"u": member.id})).scalar_one()
    assert secret not in stored  # encrypted at rest

    device = app.test_client()
    first = await _password_step(device, member.email, member.password)
    assert first.status_code == 303 and first.headers["Location"] == "/login/mfa"
    assert (await device.get(f"/o/{member.org_slug}/")).status_code == 302  # no session yet
    assert (await _code_step(device, "123456")).status_code == 401

    async with owner_engine.begin() as conn:  # the enrolment used the current step; let the next one through
        await conn.execute(text("UPDATE users SET mfa_last_step = mfa_last_step - 2 WHERE id = :u"), {"u": member.id})
    code = pyotp.TOTP(secret).now()
    assert (await _code_step(device, code)).status_code == 303
    assert (await device.get(f"/o/{member.org_slug}/")).status_code == 200

    replay = app.test_client()  # the same code a second time, from elsewhere
    await _password_step(replay, member.email, member.password)
    assert (await _code_step(replay, code)).status_code == 401
    assert (await _code_step(replay, codes[0])).status_code == 303  # a recovery code works once

    again = app.test_client()
    await _password_step(again, member.email, member.password)
    assert (await _code_step(again, codes[0])).status_code == 401
    assert (
        await count_rows("security_events", "event_type = 'mfa.recovery_code_used' AND user_id = :u", u=member.id) == 1
    )


@pytest.mark.live
async def test_password_reset_does_not_skip_the_second_factor(app, client, factory, mailbox, live_stack):
    member = await factory.org_with_owner()
    await login(client, member.email, member.password)
    await _enrol(client, member.password)
    fresh = app.test_client()
    page = await fresh.get("/forgot-password")
    await fresh.post(
        "/forgot-password", form={"csrf_token": csrf_from(await page.get_data(as_text=True)), "email": member.email}
    )
    raw = (await mailbox.wait_for(member.email, "Reset your")).link("/reset-password").split("token=")[1]
    page = await (await fresh.get(f"/reset-password?token={raw}")).get_data(as_text=True)
    reset = await fresh.post(
        "/reset-password",
        form={
            "csrf_token": csrf_from(page),
            "token": raw,
            "password": "lunar dust filter four",
            "confirm": "lunar dust filter four",
        },
    )
    assert reset.status_code == 303 and reset.headers["Location"] == "/login"
    step = await _password_step(fresh, member.email, "lunar dust filter four")
    assert step.headers["Location"] == "/login/mfa"


async def test_organization_requiring_mfa_turns_away_members_without_it(client, factory, owner_engine):
    owner = await factory.org_with_owner()
    crew = await factory.member(owner)
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO settings (id, scope, organization_id, key, value) "
                "VALUES (gen_random_uuid(), 'organization', :o, 'security.require_mfa', 'true')"
            ),
            {"o": owner.org_id},
        )
    await login(client, crew.email, crew.password)
    refused = await client.get(f"/o/{owner.org_slug}/")
    assert refused.status_code == 403 and "requires two-factor" in await refused.get_data(as_text=True)
    api = await client.get(f"/o/{owner.org_slug}/ops/check", headers={"Accept": "application/json"})
    assert api.status_code == 403 and (await api.get_json())["details"]["action"] == "/me/security"
    await _enrol(client, crew.password)
    assert (await client.get(f"/o/{owner.org_slug}/")).status_code == 200


async def test_an_admin_with_two_factor_requires_it_through_the_settings_registry(app, client, factory, count_rows):
    owner = await factory.org_with_owner()
    crew = await factory.member(owner)
    await login(client, owner.email, owner.password)
    await _enrol(client, owner.password)
    page = await (await client.get(f"/o/{owner.org_slug}/settings")).get_data(as_text=True)
    turned_on = await client.post(
        f"/o/{owner.org_slug}/settings/values",
        form={"csrf_token": csrf_from(page), "key": "security.require_mfa", "value": "on"},
        headers={"HX-Request": "true"},
    )
    assert turned_on.status_code == 200 and "Set for the organization" in await turned_on.get_data(as_text=True)
    audited = "action = 'setting.change' AND after ->> 'key' = 'security.require_mfa' AND organization_id = :o"
    assert await count_rows("audit_logs", audited, o=owner.org_id) == 1
    # a member reads the rule from outside the organization too (their list of organizations), and is turned away
    crew_api = app.test_client()
    bound = await crew_api.post(
        "/api/v1/auth/login", json={"email": crew.email, "password": crew.password, "organization": crew.org_slug}
    )
    assert bound.status_code == 403 and (await bound.get_json())["details"]["action"] == "/me/security"
    crew_browser = app.test_client()
    await login(crew_browser, crew.email, crew.password)
    assert (await crew_browser.get(f"/o/{owner.org_slug}/")).status_code == 403
    switcher = await (await crew_browser.get("/orgs")).get_data(as_text=True)
    assert "two-factor required" in switcher and "turn yours on" in switcher
