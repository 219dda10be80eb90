"""JSON logins: tokens bound to one organization, rotation, reuse detection, expiry, revocation and scope."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import text

from tests.helpers import login
from webapp.core.permissions import SystemRole
from webapp.identity import mfa


async def _login(api, member, **extra):
    body = {"email": member.email, "password": member.password, "organization": member.org_slug, **extra}
    return await api.post("/api/v1/auth/login", json=body)


async def _tokens(api, member) -> dict:
    response = await _login(api, member)
    assert response.status_code == 201, await response.get_data(as_text=True)
    return await response.get_json()


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def test_login_gives_tokens_bound_to_one_organization(app, factory, owner_engine):
    owner = await factory.org_with_owner()
    other = await factory.org_with_owner()
    api = app.test_client()
    tokens = await _tokens(api, owner)
    assert tokens["access_token"].startswith("cl_at_") and tokens["refresh_token"].startswith("cl_rt_")
    assert tokens["token_type"] == "Bearer" and 0 < tokens["expires_in"] <= 15 * 60
    assert tokens["organization_id"] == str(owner.org_id)
    async with owner_engine.connect() as conn:
        stored = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM auth_tokens t JOIN auth_sessions s ON s.id = t.session_id "
                    "WHERE s.user_id = :u AND s.kind = 'api'"
                ),
                {"u": owner.id},
            )
        ).scalar_one()
    assert stored == 2  # one access + one refresh, as hashes only

    members = await api.get(f"/api/v1/organizations/{owner.org_id}/members", headers=_bearer(tokens["access_token"]))
    assert members.status_code == 200 and [m["email"] for m in (await members.get_json())["items"]] == [owner.email]
    elsewhere = await api.get(f"/api/v1/organizations/{other.org_id}/members", headers=_bearer(tokens["access_token"]))
    missing = await api.get(
        "/api/v1/organizations/00000000-0000-7000-8000-000000000000/members", headers=_bearer(tokens["access_token"])
    )
    assert elsewhere.status_code == missing.status_code == 404
    assert await elsewhere.get_json() == await missing.get_json()
    html = await api.get(f"/o/{owner.org_slug}/", headers=_bearer(tokens["access_token"]))
    assert html.status_code == 401  # bearer tokens are for the JSON API only

    by_id = await _login(api, owner, organization=str(owner.org_id))
    assert by_id.status_code == 201
    not_member = await _login(api, owner, organization=other.org_slug)
    assert not_member.status_code == 403
    wrong_password = await _login(api, owner, password="wrong-password-1")
    assert wrong_password.status_code == 401 and (await wrong_password.get_json())["error"] == "Unauthorized"


async def test_refresh_rotates_and_reuse_revokes_the_family(app, factory, count_rows):
    owner = await factory.org_with_owner()
    api = app.test_client()
    first = await _tokens(api, owner)
    second = await api.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    second = await second.get_json()
    assert second["refresh_token"] != first["refresh_token"] and second["session_id"] == first["session_id"]
    url = f"/api/v1/organizations/{owner.org_id}/members"
    assert (await api.get(url, headers=_bearer(second["access_token"]))).status_code == 200

    replay = await api.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401 and "already used" in (await replay.get_json())["message"]
    # the thief's copy and the rightful holder's newer tokens all stop working
    assert (await api.get(url, headers=_bearer(second["access_token"]))).status_code == 401
    assert (await api.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})).status_code == 401
    assert await count_rows("security_events", "event_type = 'token.refresh_reuse' AND user_id = :u", u=owner.id) == 1
    assert await count_rows("auth_sessions", "user_id = :u AND revoked_reason = 'refresh_token_reuse'", u=owner.id) == 1

    forged = await api.post("/api/v1/auth/refresh", json={"refresh_token": "cl_rt_" + "x" * 43})
    assert forged.status_code == 401
    bad_body = await api.post("/api/v1/auth/refresh", json={"refresh_token": 42})
    assert bad_body.status_code == 422 and "refresh_token" in (await bad_body.get_json())["details"]["fields"]


async def test_expired_revoked_and_removed_member_tokens_are_refused(app, client, factory, owner_engine):
    owner = await factory.org_with_owner()
    crew = await factory.member(owner)
    api = app.test_client()
    url = f"/api/v1/organizations/{owner.org_id}/members"

    expiring = await _tokens(api, owner)
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE auth_tokens SET expires_at = now() - interval '1 second' WHERE kind = 'access' "
                "AND session_id = :s"
            ),
            {"s": expiring["session_id"]},
        )
    expired = await api.get(url, headers=_bearer(expiring["access_token"]))
    assert expired.status_code == 401 and (await expired.get_json())["details"]["refresh"] is True
    refreshed = await api.post("/api/v1/auth/refresh", json={"refresh_token": expiring["refresh_token"]})
    assert refreshed.status_code == 200  # an expired access token is what refresh tokens are for

    logged_out = await _tokens(api, owner)
    assert (await api.post("/api/v1/auth/logout", headers=_bearer(logged_out["access_token"]))).status_code == 204
    assert (await api.get(url, headers=_bearer(logged_out["access_token"]))).status_code == 401
    assert (
        await api.post("/api/v1/auth/refresh", json={"refresh_token": logged_out["refresh_token"]})
    ).status_code == 401

    crew_tokens = await _tokens(api, crew)
    token = await login(client, owner.email, owner.password)
    removed = await client.post(f"/o/{owner.org_slug}/members/{crew.id}/remove", form={"csrf_token": token})
    assert removed.status_code == 303
    assert (await api.get(url, headers=_bearer(crew_tokens["access_token"]))).status_code == 401
    assert (
        await api.post("/api/v1/auth/refresh", json={"refresh_token": crew_tokens["refresh_token"]})
    ).status_code == 401


async def test_a_token_does_only_what_the_role_allows(app, factory):
    owner = await factory.org_with_owner()
    viewer = await factory.member(owner, role=SystemRole.VIEWER)
    api = app.test_client()
    tokens = await _tokens(api, viewer)
    base = f"/api/v1/organizations/{owner.org_id}"
    assert (await api.get(f"{base}/roles", headers=_bearer(tokens["access_token"]))).status_code == 200
    denied = await api.post(
        f"{base}/invitations",
        json={"email": "x@example.org", "role_id": "nope"},
        headers=_bearer(tokens["access_token"]),
    )
    assert denied.status_code == 403 and "members:invite" in (await denied.get_json())["details"]["missing"]


async def test_two_factor_accounts_need_a_current_code(app, factory, maker, settings, owner_engine):
    owner = await factory.org_with_owner()
    secret = pyotp.random_base32()
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("UPDATE users SET mfa_secret = :s, mfa_enabled_at = now() WHERE id = :u"),
            {"s": mfa.seal(settings.secret_key, secret), "u": owner.id},
        )
    api = app.test_client()
    without = await _login(api, owner)
    assert without.status_code == 401 and (await without.get_json())["details"]["mfa_required"] is True
    wrong = await _login(api, owner, totp="000000")
    assert wrong.status_code == 401
    right = await _login(api, owner, totp=pyotp.TOTP(secret).now())
    assert right.status_code == 201
    replayed = await _login(api, owner, totp=pyotp.TOTP(secret).now())
    assert replayed.status_code == 401  # each 30-second code works once


async def test_json_login_is_throttled_with_retry_after(app, factory):
    owner = await factory.org_with_owner()
    api = app.test_client()
    for _ in range(5):
        assert (await _login(api, owner, password="wrong-password-1")).status_code == 401
    throttled = await _login(api, owner)
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0
    assert (await throttled.get_json())["error"] == "RateLimited"


async def test_sessions_are_listed_and_ended_by_their_owner_only(app, client, factory):
    owner = await factory.org_with_owner()
    other = await factory.org_with_owner()
    await login(client, owner.email, owner.password)  # a browser session too
    api = app.test_client()
    tokens = await _tokens(api, owner)
    listing = await (await api.get("/api/v1/auth/sessions", headers=_bearer(tokens["access_token"]))).get_json()
    kinds = sorted(s["kind"] for s in listing["items"])
    assert kinds == ["api", "browser"]
    current = [s for s in listing["items"] if s["current"]]
    assert [s["id"] for s in current] == [tokens["session_id"]]
    browser = next(s for s in listing["items"] if s["kind"] == "browser")

    theirs = await _tokens(api, other)
    stolen = await api.delete(f"/api/v1/auth/sessions/{browser['id']}", headers=_bearer(theirs["access_token"]))
    assert stolen.status_code == 404
    ended = await api.delete(f"/api/v1/auth/sessions/{browser['id']}", headers=_bearer(tokens["access_token"]))
    assert ended.status_code == 204
    assert (await client.get(f"/o/{owner.org_slug}/")).status_code == 302  # the browser was signed out


async def test_api_keys_cannot_use_account_routes(app, client, factory, maker):
    from tests.apikeys.test_api_keys import _create_key

    owner = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    raw = await _create_key(client, token, owner)
    api = app.test_client()
    for method, path in (("GET", "/api/v1/me"), ("GET", "/api/v1/auth/sessions"), ("POST", "/api/v1/auth/logout")):
        response = await api.open(path, method=method, headers=_bearer(raw))
        assert response.status_code == 403, path


@pytest.mark.live
async def test_email_links_work_over_json(app, factory, mailbox, live_stack):
    owner = await factory.org_with_owner()
    api = app.test_client()
    asked = await api.post("/api/v1/auth/reset-password", json={"email": owner.email})
    assert asked.status_code == 202
    unknown = await api.post("/api/v1/auth/reset-password", json={"email": "nobody@example.org"})
    assert unknown.status_code == 202 and await unknown.get_json() == await asked.get_json()
    link = (await mailbox.wait_for(owner.email, "Reset your")).link("/reset-password")
    raw = link.split("token=")[1]
    weak = await api.post("/api/v1/auth/reset-password", json={"token": raw, "password": "password"})
    assert weak.status_code == 422
    done = await api.post("/api/v1/auth/reset-password", json={"token": raw, "password": "a new lunar phrase"})
    assert done.status_code == 204
    replay = await api.post("/api/v1/auth/reset-password", json={"token": raw, "password": "another lunar phrase"})
    assert replay.status_code == 400
    owner.password = "a new lunar phrase"
    assert (await _login(api, owner)).status_code == 201
    bad = await api.post("/api/v1/auth/verify-email", json={"token": "not-a-token"})
    assert bad.status_code == 400
