"""API keys: shown once and stored as a hash, scoped, bound to one organization, refused when expired,
disabled or deleted, never stronger than their owner today."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlencode

from sqlalchemy import text

from tests.helpers import login
from webapp.core.permissions import SystemRole


async def _create_key(client, token, member, *, scopes=("ops:read",), expires_in="30", name="importer"):
    pairs = [("csrf_token", token), ("name", name), ("expires_in", expires_in)] + [("permissions", s) for s in scopes]
    response = await client.post(
        f"/o/{member.org_slug}/api-keys",
        data=urlencode(pairs),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 303, await response.get_data(as_text=True)
    shown = await client.get(response.headers["Location"])  # POST-redirect-GET: the secret is on the page after
    body = await shown.get_data(as_text=True)
    assert shown.status_code == 200, body
    return re.search(r'id="new-key-value"[^>]*value="([^"]+)"', body).group(1)


def _bearer(raw: str) -> dict:
    return {"Authorization": f"Bearer {raw}"}


async def test_a_key_is_shown_once_stored_hashed_and_works_as_bearer(app, client, factory, owner_engine, count_rows):
    owner = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    raw = await _create_key(client, token, owner)
    assert raw.startswith("cl_live_") and len(raw) > 40
    listing = await (await client.get(f"/o/{owner.org_slug}/api-keys")).get_data(as_text=True)
    assert raw not in listing and raw[:14] in listing  # the prefix identifies it, the secret is gone
    async with owner_engine.connect() as conn:
        stored = (
            await conn.execute(text("SELECT key_hash FROM api_keys WHERE user_id = :u"), {"u": owner.id})
        ).scalar_one()
    assert bytes(stored) == hashlib.sha256(raw.encode()).digest()

    api = app.test_client()  # no cookies at all
    response = await api.get(f"/api/v1/organizations/{owner.org_id}/system-checks", headers=_bearer(raw))
    assert response.status_code == 200 and (await response.get_json())["items"] == []
    assert await count_rows("security_events", "event_type = 'api_key.used' AND user_id = :u", u=owner.id) == 1
    async with owner_engine.connect() as conn:
        last_used = (
            await conn.execute(text("SELECT last_used_at FROM api_keys WHERE user_id = :u"), {"u": owner.id})
        ).scalar_one()
    assert last_used is not None


async def test_reloading_the_created_page_neither_shows_the_secret_again_nor_makes_a_second_key(
    client, factory, count_rows
):
    owner = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    created = await client.post(
        f"/o/{owner.org_slug}/api-keys",
        form={"csrf_token": token, "name": "importer", "expires_in": "30", "permissions": "ops:read"},
    )
    assert created.status_code == 303
    page = created.headers["Location"]
    first = await (await client.get(page)).get_data(as_text=True)
    assert re.search(r'id="new-key-value"[^>]*value="cl_live_', first)
    reload = await client.get(page)  # what the browser's reload does after a redirect: GET, not POST
    assert reload.status_code == 200 and "new-key-value" not in await reload.get_data(as_text=True)
    assert await count_rows("api_keys", "user_id = :u", u=owner.id) == 1


async def test_scopes_organization_expiry_disable_and_delete_are_enforced(app, client, factory, owner_engine):
    owner = await factory.org_with_owner()
    other = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    raw = await _create_key(client, token, owner, scopes=("ops:read",))
    api, url = app.test_client(), f"/api/v1/organizations/{owner.org_id}/system-checks"

    out_of_scope = await api.post(url, json={"steps": ["postgres"]}, headers=_bearer(raw))
    assert out_of_scope.status_code == 403  # the owner may run checks; this key may not
    assert "ops:run" in (await out_of_scope.get_json())["details"]["missing"]
    wrong_org = await api.get(f"/api/v1/organizations/{other.org_id}/system-checks", headers=_bearer(raw))
    missing_org = await api.get(
        "/api/v1/organizations/00000000-0000-7000-8000-000000000000/system-checks", headers=_bearer(raw)
    )
    assert wrong_org.status_code == missing_org.status_code == 404
    assert await wrong_org.get_json() == await missing_org.get_json()
    html = await api.get(f"/o/{owner.org_slug}/", headers=_bearer(raw))
    assert html.status_code == 401  # keys are for the JSON API only
    forged = await api.get(url, headers=_bearer(raw[:-2] + "xx"))
    assert forged.status_code == 401

    async with owner_engine.connect() as conn:
        key_id = (await conn.execute(text("SELECT id FROM api_keys WHERE user_id = :u"), {"u": owner.id})).scalar_one()
    disabled = await client.post(f"/o/{owner.org_slug}/api-keys/{key_id}/disable", form={"csrf_token": token})
    assert disabled.status_code == 303
    assert (await api.get(url, headers=_bearer(raw))).status_code == 401
    await client.post(f"/o/{owner.org_slug}/api-keys/{key_id}/enable", form={"csrf_token": token})
    assert (await api.get(url, headers=_bearer(raw))).status_code == 200

    async with owner_engine.begin() as conn:
        await conn.execute(
            text("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = :k"), {"k": key_id}
        )
    expired = await api.get(url, headers=_bearer(raw))
    assert expired.status_code == 401 and "expired" in (await expired.get_json())["message"]
    async with owner_engine.begin() as conn:
        await conn.execute(text("UPDATE api_keys SET expires_at = NULL WHERE id = :k"), {"k": key_id})
    await client.post(f"/o/{owner.org_slug}/api-keys/{key_id}/delete", form={"csrf_token": token})
    assert (await api.get(url, headers=_bearer(raw))).status_code == 401


async def test_a_key_never_does_more_than_its_owner_may_today(app, client, factory, owner_engine):
    owner = await factory.org_with_owner()
    crew = await factory.member(owner, role=SystemRole.CREW_MEMBER)
    crew_client = app.test_client()
    crew_token = await login(crew_client, crew.email, crew.password)
    raw = await _create_key(crew_client, crew_token, crew, scopes=("ops:read", "ops:run"))
    api, url = app.test_client(), f"/api/v1/organizations/{owner.org_id}/system-checks"
    assert (await api.post(url, json={"steps": ["postgres"]}, headers=_bearer(raw))).status_code == 201

    token = await login(client, owner.email, owner.password)
    async with owner_engine.connect() as conn:
        viewer = (
            await conn.execute(
                text("SELECT id FROM roles WHERE organization_id = :o AND key = 'viewer'"), {"o": owner.org_id}
            )
        ).scalar_one()
        version = (
            await conn.execute(text("SELECT version FROM memberships WHERE user_id = :u"), {"u": crew.id})
        ).scalar_one()
    demoted = await client.post(
        f"/o/{owner.org_slug}/members/{crew.id}/role",
        form={"csrf_token": token, "role_id": str(viewer), "version": str(version)},
    )
    assert demoted.status_code == 303
    assert (await api.post(url, json={"steps": ["postgres"]}, headers=_bearer(raw))).status_code == 403
    assert (await api.get(url, headers=_bearer(raw))).status_code == 200


async def test_scopes_beyond_ones_own_permissions_are_refused(client, factory, count_rows):
    owner = await factory.org_with_owner()
    crew = await factory.member(owner, role=SystemRole.VIEWER)
    token = await login(client, crew.email, crew.password)
    before = await count_rows("api_keys")
    # a viewer may not create keys at all
    response = await client.post(
        f"/o/{owner.org_slug}/api-keys",
        form={"csrf_token": token, "name": "x", "permissions": "ops:read", "expires_in": "30"},
    )
    assert response.status_code == 403
    analyst = await factory.member(owner, role=SystemRole.ANALYST)
    await client.post("/logout", form={"csrf_token": token})
    token = await login(client, analyst.email, analyst.password)
    for form, status in (
        ({"name": "x", "permissions": "members:write", "expires_in": "30"}, 403),
        ({"name": "", "permissions": "ops:read", "expires_in": "30"}, 422),
        ({"name": "x" * 81, "permissions": "ops:read", "expires_in": "30"}, 422),
        ({"name": "x", "expires_in": "30"}, 422),
        ({"name": "x", "permissions": "nope:nothing", "expires_in": "30"}, 422),
    ):
        response = await client.post(f"/o/{owner.org_slug}/api-keys", form={"csrf_token": token, **form})
        assert response.status_code == status, (form, await response.get_data(as_text=True))
    assert await count_rows("api_keys") == before
