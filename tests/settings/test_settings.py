"""Settings: the registry resolves user -> organization -> system -> default and says where a value comes from; who
may change what (admins their organization's, each person theirs, staff the platform's); values checked by type
and bounds; 409 on a stale version; every change audited with old and new value; a new mission starts from the
organization's planning defaults; the pages; 404 for another organization's or person's."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from sqlalchemy import text

from tests.conftest import csrf_from
from tests.helpers import api_key_headers, login, token_headers
from tests.missions.test_missions_api import MISSION
from webapp.core.permissions import SystemRole

ENERGY = "missions.default_energy_budget_kwh_per_day"


def _by_key(items: list[dict]) -> dict:
    return {i["key"]: i for i in items}


async def test_resolution_permissions_validation_conflict_and_audit(app, client, factory, owner_engine):
    owner = await factory.org_with_owner()
    crew = await factory.member(owner, SystemRole.CREW_MEMBER, name="Crew Person")
    auth = await token_headers(app.test_client(), owner)
    base = f"/api/v1/organizations/{owner.org_id}/settings"
    listed = _by_key((await (await client.get(base, headers=auth)).get_json())["items"])
    assert listed[ENERGY]["value"] == 60 and listed[ENERGY]["source"] == "default" and listed[ENERGY]["id"] is None
    assert "email.mentions" not in listed  # a person's setting, not an organization's

    created = await client.post(base, headers=auth, json={"key": ENERGY, "value": 75.5})
    row = await created.get_json()
    assert created.status_code == 201 and row["value"] == 75.5 and row["scope"] == "organization"
    listed = _by_key((await (await client.get(base, headers=auth)).get_json())["items"])
    assert listed[ENERGY]["value"] == 75.5 and listed[ENERGY]["source"] == "organization"
    again = await client.post(base, headers=auth, json={"key": ENERGY, "value": 80})
    assert again.status_code == 200 and (await again.get_json())["version"] == 2

    for bad in (
        {"key": "missions.nope", "value": 1},
        {"key": ENERGY, "value": -1},
        {"key": ENERGY, "value": "lots"},
        {"key": ENERGY, "value": 1.23456},
        {"key": "email.mentions", "value": False},  # not an organization setting
    ):
        answer = await client.post(base, headers=auth, json=bad)
        assert answer.status_code == 422, bad
    assert (
        await client.post(base, headers=auth, json={"key": ENERGY, "value": 1, "scope": "system"})
    ).status_code == 403

    stale = await client.patch(f"/api/v1/settings/{row['id']}", headers=auth, json={"value": 90, "version": 1})
    assert stale.status_code == 409 and (await stale.get_json())["details"]["current"]["version"] == 2
    fresh = await client.patch(f"/api/v1/settings/{row['id']}", headers=auth, json={"value": 90, "version": 2})
    assert fresh.status_code == 200 and (await fresh.get_json())["value"] == 90

    crew_auth = await token_headers(app.test_client(), crew)
    assert (await client.post(base, headers=crew_auth, json={"key": ENERGY, "value": 1})).status_code == 403
    assert (
        await client.patch(f"/api/v1/settings/{row['id']}", headers=crew_auth, json={"value": 1})
    ).status_code == 403
    other = await factory.org_with_owner()
    their = await token_headers(app.test_client(), other)
    assert (await client.patch(f"/api/v1/settings/{row['id']}", headers=their, json={"value": 1})).status_code == 404
    assert (await client.get(base, headers=their)).status_code == 404

    async with owner_engine.connect() as conn:
        changes = (
            await conn.execute(
                text(
                    "SELECT before -> 'value', after -> 'value' FROM audit_logs WHERE action = 'setting.change' "
                    "AND entity_id = :i ORDER BY created_at"
                ),
                {"i": row["id"]},
            )
        ).all()
    assert [tuple(c) for c in changes] == [(None, "75.5"), ("75.5", "80"), ("80", "90")]

    # a new mission starts from the organization's value; one that names its own keeps it
    key = await api_key_headers(app.test_client(), owner, ["missions:write", "missions:read"])
    plain = {k: v for k, v in MISSION.items() if k != "settings"}
    mission = await (
        await client.post(f"/api/v1/organizations/{owner.org_id}/missions", headers=key, json=plain)
    ).get_json()
    assert mission["settings"]["energy_budget_kwh_per_day"] == 90
    assert mission["settings"]["crew_time_h_per_day"] == 2  # not set for the organization: the default


async def test_each_person_sets_their_own_and_staff_set_the_platforms(app, client, factory):
    owner = await factory.org_with_owner()
    crew = await factory.member(owner, SystemRole.CREW_MEMBER, name="Crew Person")
    crew_auth = await token_headers(app.test_client(), crew)
    mine = _by_key(
        (await (await client.get(f"/api/v1/users/{crew.id}/settings", headers=crew_auth)).get_json())["items"]
    )
    assert mine["email.mentions"]["value"] is True and mine["email.mentions"]["source"] == "default"
    assert (await client.get(f"/api/v1/users/{owner.id}/settings", headers=crew_auth)).status_code == 404

    # staff change the platform's default on their page; everyone without a choice of their own follows it
    staff = await factory.platform_admin()
    staff_client = app.test_client()
    await login(staff_client, staff.email, staff.password)
    page = await (await staff_client.get("/admin/settings")).get_data(as_text=True)
    assert "Platform settings" in page and "Someone mentions me in a comment" in page
    token = csrf_from(page)
    saved = await staff_client.post(
        "/admin/settings",
        headers={"HX-Request": "true"},
        form={"csrf_token": token, "key": "email.mentions", "value": "off"},
    )
    assert saved.status_code == 200 and "ClosedLoop-wide default" in await saved.get_data(as_text=True)
    mine = _by_key(
        (await (await client.get(f"/api/v1/users/{crew.id}/settings", headers=crew_auth)).get_json())["items"]
    )
    assert mine["email.mentions"]["value"] is False and mine["email.mentions"]["source"] == "system"
    assert (await app.test_client().get("/admin/settings")).status_code in (302, 404)

    # the person's own choice wins; their page says so
    crew_client = app.test_client()
    await login(crew_client, crew.email, crew.password)
    page = await (await crew_client.get("/me/settings")).get_data(as_text=True)
    assert "Your settings" in page and "ClosedLoop-wide default" in page
    # a checked switch sends its hidden "off" and then "on", as the browser does
    fields = [("csrf_token", csrf_from(page)), ("key", "email.mentions"), ("value", "off"), ("value", "on")]
    chosen = await crew_client.post(
        "/me/settings",
        headers={"HX-Request": "true", "Content-Type": "application/x-www-form-urlencoded"},
        data=urlencode(fields),
    )
    assert chosen.status_code == 200 and "Your choice" in await chosen.get_data(as_text=True)
    mine = _by_key(
        (await (await client.get(f"/api/v1/users/{crew.id}/settings", headers=crew_auth)).get_json())["items"]
    )
    assert mine["email.mentions"]["value"] is True and mine["email.mentions"]["source"] == "user"
    reset = await crew_client.post(
        "/me/settings", form={"csrf_token": csrf_from(page), "key": "email.mentions", "reset": "1"}
    )
    assert reset.status_code == 303
    mine = _by_key(
        (await (await client.get(f"/api/v1/users/{crew.id}/settings", headers=crew_auth)).get_json())["items"]
    )
    assert mine["email.mentions"]["source"] == "system"


async def test_the_organization_settings_page_groups_by_topic(app, client, factory):
    owner = await factory.org_with_owner()
    viewer = await factory.member(owner, SystemRole.VIEWER, name="Viewer Person")
    await login(client, owner.email, owner.password)
    page = await (await client.get(f"/o/{owner.org_slug}/settings")).get_data(as_text=True)
    assert "Mission planning defaults" in page and 'name="value"' in page and "Default" in page
    assert "0 B of 5.0 GiB used by attached files" in page
    saved = await client.post(
        f"/o/{owner.org_slug}/settings/values",
        headers={"HX-Request": "true"},
        form={"csrf_token": csrf_from(page), "key": "missions.default_regolith_supply_kg_per_day", "value": "40"},
    )
    html = await saved.get_data(as_text=True)
    assert saved.status_code == 200 and "Set for the organization" in html and 'value="40"' in html
    bad = await client.post(
        f"/o/{owner.org_slug}/settings/values",
        headers={"HX-Request": "true"},
        form={"csrf_token": csrf_from(page), "key": "missions.default_regolith_supply_kg_per_day", "value": "-4"},
    )
    assert bad.status_code == 422 and "At least 0" in await bad.get_data(as_text=True)
    new = await (await client.get(f"/o/{owner.org_slug}/missions/new")).get_data(as_text=True)
    assert re.search(r'<input[^>]*name="regolith_supply_kg_per_day"[^>]*value="40"', new)

    viewer_client = app.test_client()
    await login(viewer_client, viewer.email, viewer.password)
    seen = await (await viewer_client.get(f"/o/{owner.org_slug}/settings")).get_data(as_text=True)
    assert "Mission planning defaults" in seen and "40 kg/day" in seen and 'name="value"' not in seen
