"""The audit log as people read it: an organization's admins filter their rows (entity, actor, action prefix, time
range, address) page by page and see what each changed; nobody sees another organization's rows; staff see every
organization's; a filtered export (CSV and JSON Lines, streamed) holds exactly the rows the viewer lists."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from tests.helpers import api_key_headers, login
from tests.missions.test_missions_api import MISSION
from webapp.core.permissions import SystemRole


async def _all_pages(client, path: str, headers: dict, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        query = params | ({"cursor": cursor} if cursor else {}) | {"limit": "7"}
        answer = await client.get(path, headers=headers, query_string=query)
        assert answer.status_code == 200, await answer.get_json()
        body = await answer.get_json()
        items += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return items


async def test_admins_filter_page_and_export_exactly_the_rows_they_see(app, factory):
    owner = await factory.org_with_owner()
    other = await factory.org_with_owner()
    crew = await factory.member(owner, SystemRole.CREW_MEMBER, name="Rosalind Crewe")
    api = app.test_client()
    auth = await api_key_headers(app.test_client(), owner, ["missions:read", "missions:write", "audit:read"])
    created = []
    for n in range(9):
        answer = await api.post(
            f"/api/v1/organizations/{owner.org_id}/missions",
            headers=auth,
            json=MISSION | {"name": f"Audit mission {n}"},
        )
        created.append((await answer.get_json())["id"])
    first = created[0]
    changed = await api.patch(
        f"/api/v1/missions/{first}", headers=auth | {"If-Match": "1"}, json={"name": "Audit mission renamed"}
    )
    assert changed.status_code in (200, 428, 412), await changed.get_json()
    await api_key_headers(app.test_client(), other, ["missions:read"])  # rows in another organization

    path = f"/api/v1/organizations/{owner.org_id}/audit-logs"
    everything = await _all_pages(api, path, auth)
    assert everything and all(r["organization_id"] == str(owner.org_id) for r in everything)
    moments = [datetime.fromisoformat(r["created_at"].replace("Z", "+00:00")) for r in everything]
    assert moments == sorted(moments, reverse=True)
    missions = await _all_pages(api, path, auth, action="mission.")
    assert len(missions) >= 9 and all(r["action"].startswith("mission.") for r in missions)
    one = await _all_pages(api, path, auth, entity_type="mission", entity_id=first)
    assert one and {r["entity_id"] for r in one} == {first}
    assert await _all_pages(api, path, auth, since=(datetime.now(UTC) + timedelta(days=1)).isoformat()) == []
    bad = await api.get(path, headers=auth, query_string={"since": "yesterday-ish"})
    assert bad.status_code == 400
    assert (await api.get(path, headers=auth, query_string={"ip": "999.1.1.1"})).status_code == 400
    assert (await api.get(path, headers=auth, query_string={"actor_id": "not-an-id"})).status_code == 400
    # another organization's rows are not there, nor reachable by its id
    elsewhere = await api.get(f"/api/v1/organizations/{other.org_id}/audit-logs", headers=auth)
    assert elsewhere.status_code in (403, 404)

    # the page: the same rows, what each changed, and exports of the filtered range equal to the API's list
    browser = app.test_client()
    await login(browser, owner.email, owner.password)
    html = await (await browser.get(f"/o/{owner.org_slug}/audit", query_string={"action": "mission."})).get_data(
        as_text=True
    )
    assert "mission.create" in html and "Audit mission" in html and "change" in html
    lines = (
        await (await browser.get(f"/o/{owner.org_slug}/audit.jsonl", query_string={"action": "mission."})).get_data(
            as_text=True
        )
    ).splitlines()
    exported = [json.loads(line) for line in lines]
    assert sorted(r["id"] for r in exported) == sorted(r["id"] for r in missions)
    by_id = {r["id"]: r for r in missions}
    for row in exported:
        listed = by_id[row["id"]]
        assert (row["action"], row["entity_id"], row["after"], row["row_hash"]) == (
            listed["action"],
            listed["entity_id"],
            listed["after"],
            listed["row_hash"],
        )
    table = list(
        csv.DictReader(
            io.StringIO(
                await (
                    await browser.get(f"/o/{owner.org_slug}/audit.csv", query_string={"action": "mission."})
                ).get_data(as_text=True)
            )
        )
    )
    assert sorted(r["id"] for r in table) == sorted(by_id)
    assert json.loads(table[0]["after"]) == by_id[table[0]["id"]]["after"]

    # crew members do not read the audit log
    crew_browser = app.test_client()
    await login(crew_browser, crew.email, crew.password)
    assert (await crew_browser.get(f"/o/{owner.org_slug}/audit")).status_code == 403
    assert (await crew_browser.get(f"/o/{owner.org_slug}/audit.jsonl")).status_code == 403


async def test_staff_read_every_organization_and_the_platform_rows(app, factory):
    first, second = await factory.org_with_owner(), await factory.org_with_owner()
    for member in (first, second):
        await login(app.test_client(), member.email, member.password)
    staff = await factory.platform_admin()
    browser = app.test_client()
    await login(browser, staff.email, staff.password)
    html = await (await browser.get("/admin/audit", query_string={"organization_id": str(first.org_id)})).get_data(
        as_text=True
    )
    assert first.org_slug in html and second.org_slug not in html
    api = app.test_client()
    token = await login(api, staff.email, staff.password)
    listed = await (
        await api.get(
            "/api/v1/audit/logs",
            headers={"X-CSRF-Token": token},
            query_string={"platform": "true", "action": "auth.", "limit": "20"},
        )
    ).get_json()
    assert listed["items"] and all(r["organization_id"] is None for r in listed["items"])
    member = app.test_client()
    await login(member, first.email, first.password)
    assert (await member.get("/admin/audit")).status_code == 404
    assert (await member.get("/api/v1/audit/logs")).status_code == 404
