"""Organizations: create, edit with optimistic locking, archive (read-only), soft delete and restore by owners,
and platform staff who list every organization and suspend one, in the browser and over JSON."""

from __future__ import annotations

import secrets

from sqlalchemy import text

from tests.conftest import csrf_from
from tests.helpers import login, token_headers
from webapp.core.permissions import SystemRole


async def _settings_form(client, slug) -> tuple[str, dict]:
    page = await (await client.get(f"/o/{slug}/settings")).get_data(as_text=True)
    version = page.split('name="version" type="hidden" value="')[1].split('"')[0]
    return page, {"csrf_token": csrf_from(page), "version": version}


async def test_create_an_organization_and_a_taken_address_is_refused(client, factory, count_rows):
    owner = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    slug = f"olympus-{secrets.token_hex(3)}"
    created = await client.post("/orgs/new", form={"csrf_token": token, "name": "Olympus Base", "slug": slug})
    assert created.status_code == 303 and created.headers["Location"] == f"/o/{slug}/"
    home = await client.get(f"/o/{slug}/")
    assert home.status_code == 200 and "Olympus Base" in await home.get_data(as_text=True)
    assert await count_rows("roles r JOIN organizations o ON o.id = r.organization_id", "o.slug = :s", s=slug) == 9

    taken = await client.post("/orgs/new", form={"csrf_token": token, "name": "Another", "slug": slug})
    assert taken.status_code == 409 and "That address is taken" in await taken.get_data(as_text=True)
    bad = await client.post("/orgs/new", form={"csrf_token": token, "name": "", "slug": "Not A Slug"})
    assert bad.status_code == 422
    assert await count_rows("organizations", "name = 'Another'") == 0


async def test_settings_save_conflict_and_two_factor_guard(client, factory, count_rows):
    owner = await factory.org_with_owner()
    await login(client, owner.email, owner.password)
    _, form = await _settings_form(client, owner.org_slug)
    base = dict(form, name="Shackleton Rim", slug=owner.org_slug)
    saved = await client.post(f"/o/{owner.org_slug}/settings", form=base, headers={"HX-Request": "true"})
    assert saved.status_code == 200 and "Settings saved." in saved.headers["HX-Trigger"]
    stale = await client.post(
        f"/o/{owner.org_slug}/settings", form=dict(base, name="Stale Name"), headers={"HX-Request": "true"}
    )
    body = await stale.get_data(as_text=True)
    assert stale.status_code == 409 and "Shackleton Rim" in body and 'value="Stale Name"' in body
    page, form = await _settings_form(client, owner.org_slug)
    assert 'id="setting-security-require_mfa"' in page  # the two-factor rule is a setting of the registry
    guard = await client.post(
        f"/o/{owner.org_slug}/settings/values",
        form={"csrf_token": form["csrf_token"], "key": "security.require_mfa", "value": "on"},
        headers={"HX-Request": "true"},
    )
    assert guard.status_code == 422 and "lock yourself out" in await guard.get_data(as_text=True)
    assert await count_rows("settings", "organization_id = :o AND key = 'security.require_mfa'", o=owner.org_id) == 0
    assert await count_rows("audit_logs", "action = 'organization.update' AND entity_id = :o", o=str(owner.org_id)) == 1


async def test_an_archived_organization_is_read_only_until_reactivated(client, factory, owner_engine):
    owner = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    _, form = await _settings_form(client, owner.org_slug)
    archived = await client.post(
        f"/o/{owner.org_slug}/settings", form=dict(form, name="Lunar Outpost", slug=owner.org_slug, archived="y")
    )
    assert archived.status_code == 303
    members = await client.get(f"/o/{owner.org_slug}/members")
    assert members.status_code == 200 and "is archived" in await members.get_data(as_text=True)
    async with owner_engine.connect() as conn:
        role_id = (
            await conn.execute(
                text("SELECT id FROM roles WHERE organization_id = :o AND key = 'viewer'"), {"o": owner.org_id}
            )
        ).scalar_one()
    invite = await client.post(
        f"/o/{owner.org_slug}/members/invitations",
        form={"csrf_token": token, "email": "new@example.org", "role_id": str(role_id)},
    )
    assert invite.status_code == 403
    _, form = await _settings_form(client, owner.org_slug)
    active = await client.post(
        f"/o/{owner.org_slug}/settings", form=dict(form, name="Lunar Outpost", slug=owner.org_slug)
    )
    assert active.status_code == 303
    invite = await client.post(
        f"/o/{owner.org_slug}/members/invitations",
        form={"csrf_token": token, "email": "new@example.org", "role_id": str(role_id)},
    )
    assert invite.status_code == 303


async def test_owners_delete_and_restore_others_cannot(app, client, factory, count_rows):
    owner = await factory.org_with_owner()
    admin = await factory.member(owner, role=SystemRole.ADMIN)
    admin_client = app.test_client()
    admin_token = await login(admin_client, admin.email, admin.password)
    refused = await admin_client.post(
        f"/o/{owner.org_slug}/delete", form={"csrf_token": admin_token, "confirm": owner.org_slug}
    )
    assert refused.status_code == 403

    token = await login(client, owner.email, owner.password)
    wrong = await client.post(f"/o/{owner.org_slug}/delete", form={"csrf_token": token, "confirm": "nope"})
    assert (
        wrong.status_code == 422
        and await count_rows("organizations", "id = :o AND deleted_at IS NULL", o=owner.org_id) == 1
    )
    deleted = await client.post(f"/o/{owner.org_slug}/delete", form={"csrf_token": token, "confirm": owner.org_slug})
    assert deleted.status_code == 303
    assert (await client.get(f"/o/{owner.org_slug}/")).status_code == 404
    assert (await admin_client.get(f"/o/{owner.org_slug}/")).status_code == 404
    switcher = await (await client.get("/orgs")).get_data(as_text=True)
    assert "Deleted organizations" in switcher and f"/orgs/{owner.org_id}/restore" in switcher
    assert "Deleted organizations" not in await (await admin_client.get("/orgs")).get_data(as_text=True)
    not_owner = await admin_client.post(f"/orgs/{owner.org_id}/restore", form={"csrf_token": admin_token})
    assert not_owner.status_code == 404

    restored = await client.post(f"/orgs/{owner.org_id}/restore", form={"csrf_token": token})
    assert restored.status_code == 303 and (await client.get(f"/o/{owner.org_slug}/")).status_code == 200
    assert (
        await count_rows(
            "audit_logs",
            "action IN ('organization.delete', 'organization.restore') AND entity_id = :o",
            o=str(owner.org_id),
        )
        == 2
    )


async def test_platform_staff_list_every_organization_and_suspend_one(app, client, factory, count_rows):
    unique = secrets.token_hex(3)
    owner = await factory.org_with_owner(name=f"Valles Marineris Station {unique}")
    staff = await factory.platform_admin()
    assert (await client.get("/admin/organizations")).status_code == 302  # signed out: sign in first
    member_client = app.test_client()
    await login(member_client, owner.email, owner.password)
    assert (await member_client.get("/admin/organizations")).status_code == 404

    token = await login(client, staff.email, staff.password)
    listing = await client.get(f"/admin/organizations?q={unique}")
    body = await listing.get_data(as_text=True)
    assert listing.status_code == 200 and "Valles Marineris Station" in body
    assert (
        await count_rows("audit_logs", "action = 'platform.organizations_listed' AND actor_user_id = :u", u=staff.id)
        == 1
    )

    short = await client.post(
        f"/admin/organizations/{owner.org_id}/status",
        form={"csrf_token": token, "status": "suspended", "reason": "spam"},
    )
    assert short.status_code == 422
    suspended = await client.post(
        f"/admin/organizations/{owner.org_id}/status",
        form={"csrf_token": token, "status": "suspended", "reason": "Unpaid invoices since May"},
    )
    assert suspended.status_code == 303
    assert (await member_client.get(f"/o/{owner.org_slug}/")).status_code == 403
    assert (
        await count_rows(
            "audit_logs", "action = 'organization.status_set_by_platform' AND organization_id = :o", o=owner.org_id
        )
        == 1
    )

    api = app.test_client()
    staff_tokens = await client.get(
        f"/api/v1/organizations?scope=all&q={unique}", headers={"Accept": "application/json"}
    )
    assert staff_tokens.status_code == 200
    assert [o["status"] for o in (await staff_tokens.get_json())["items"]] == ["suspended"]
    assert (await api.get("/api/v1/organizations?scope=all")).status_code == 401


async def test_organizations_over_json(app, client, factory):
    from tests.apikeys.test_api_keys import _create_key

    owner = await factory.org_with_owner()
    api = app.test_client()
    auth = await token_headers(api, owner)
    slug = f"json-{secrets.token_hex(3)}"
    created = await api.post("/api/v1/organizations", json={"name": "Json Base", "slug": slug}, headers=auth)
    assert created.status_code == 201 and created.headers["Location"].endswith((await created.get_json())["id"])
    mine = await (await api.get("/api/v1/organizations", headers=auth)).get_json()
    assert [o["slug"] for o in mine["items"]] == [owner.org_slug]  # the token is bound to its organization

    url = f"/api/v1/organizations/{owner.org_id}"
    org = await (await api.get(url, headers=auth)).get_json()
    patched = await api.patch(url, json={"name": "Renamed", "version": org["version"]}, headers=auth)
    assert patched.status_code == 200 and (await patched.get_json())["name"] == "Renamed"
    stale = await api.patch(url, json={"name": "Again", "version": org["version"]}, headers=auth)
    assert stale.status_code == 409 and (await stale.get_json())["details"]["current"]["name"] == "Renamed"
    suspend = await api.patch(url, json={"status": "suspended"}, headers=auth)
    assert suspend.status_code == 422

    token = await login(client, owner.email, owner.password)
    key = await _create_key(client, token, owner)
    by_key = await api.post(
        "/api/v1/organizations", json={"name": "Via Key"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert by_key.status_code == 403

    assert (await api.delete(url, headers=auth)).status_code == 204
    assert (await api.get(url, headers=auth)).status_code == 401  # the token's organization is gone
    restored = await client.post(
        f"/api/v1/organizations/{owner.org_id}/restore", headers={"X-CSRF-Token": token, "Accept": "application/json"}
    )
    assert restored.status_code == 200 and (await restored.get_json())["name"] == "Renamed"
