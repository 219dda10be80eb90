"""Missions and crew over JSON: 201 + Location, filters/sort/cursor, embed=crew, 409 with the current version,
validation with field details, 204 deletes, restore, bearer-only routes, and another organization's mission."""

from __future__ import annotations

from tests.helpers import login


async def _key(client, member, permissions) -> dict:
    token = await login(client, member.email, member.password)
    created = await client.post(
        f"/api/v1/organizations/{member.org_id}/api-keys",
        headers={"X-CSRF-Token": token},
        json={"name": "automation", "permissions": permissions},
    )
    assert created.status_code == 201, await created.get_json()
    return {"Authorization": f"Bearer {(await created.get_json())['key']}"}


MISSION = {
    "name": "Mars Settlement Alpha",
    "description": "Test mission",
    "destination": "mars",
    "launch_date": "2031-07-10T12:00:00Z",
    "landing_date": "2031-12-10T12:00:00Z",
    "crew_size": 8,
    "settings": {"recycle_target_kg_per_day": 10},
}


async def test_mission_lifecycle_over_json(app, client, factory):
    owner = await factory.org_with_owner()
    crew = await factory.member(owner)
    auth = await _key(client, owner, ["missions:read", "missions:write", "crew:write"])
    api = app.test_client()
    base = f"/api/v1/organizations/{owner.org_id}/missions"

    bad = await api.post(
        base, headers=auth, json=MISSION | {"crew_size": 0, "settings": {"energy_budget_kwh_per_day": -1}}
    )
    body = await bad.get_json()  # outside the document's limits: refused before any rule runs
    assert bad.status_code == 422 and body["error"] == "ValidationError" and body["details"]["source"] == "schema"
    assert set(body["details"]["fields"]) == {"crew_size", "settings.energy_budget_kwh_per_day"}
    early = await api.post(base, headers=auth, json=MISSION | {"landing_date": "2031-01-01"})
    body = await early.get_json()  # well-formed, but it breaks a rule the service keeps
    assert early.status_code == 422 and "source" not in body["details"]
    assert body["details"]["fields"] == {"landing_date": ["Landing cannot be before launch."]}
    typo = await api.post(base, headers=auth, json=MISSION | {"crew": 3})
    assert typo.status_code == 422 and "crew" in (await typo.get_json())["details"]["fields"]

    created = await api.post(base, headers=auth, json=MISSION)
    mission = await created.get_json()
    assert created.status_code == 201 and created.headers["Location"] == f"/api/v1/missions/{mission['id']}"
    assert mission["settings"]["recycle_target_kg_per_day"] == 10.0
    assert mission["settings"]["energy_budget_kwh_per_day"] == 60.0  # habitat.md default
    duplicate = await api.post(base, headers=auth, json=MISSION)
    assert duplicate.status_code == 409 and "name" in (await duplicate.get_json())["details"]["fields"]

    url = created.headers["Location"]
    assigned = await api.post(
        f"{url}/crew", headers=auth, json={"user_id": str(crew.id), "role": "commander", "specialization": "geology"}
    )
    assert assigned.status_code == 201
    embedded = await (await api.get(f"{url}?embed=crew", headers=auth)).get_json()
    assert [c["role"] for c in embedded["crew"]] == ["commander"]
    assert "crew" not in await (await api.get(url, headers=auth)).get_json()

    changed = await api.patch(
        url,
        headers=auth,
        json={"version": mission["version"], "status": "active", "settings": {"energy_budget_kwh_per_day": 75}},
    )
    assert changed.status_code == 200 and (await changed.get_json())["settings"]["energy_budget_kwh_per_day"] == 75.0
    stale = await api.patch(url, headers=auth, json={"version": mission["version"], "name": "Renamed"})
    stale_body = await stale.get_json()
    assert stale.status_code == 409 and stale_body["details"]["current"]["version"] == mission["version"] + 1
    assert stale_body["details"]["current"]["name"] == "Mars Settlement Alpha"

    crew_id = (await assigned.get_json())["id"]
    assert (await api.delete(f"{url}/crew/{crew_id}", headers=auth)).status_code == 204
    history = await (await api.get(f"{url}/crew?include=removed", headers=auth)).get_json()
    assert history["items"][0]["removed_at"] is not None

    assert (await api.delete(url, headers=auth)).status_code == 204
    assert (await api.get(url, headers=auth)).status_code == 404
    assert (await api.post(f"{url}/restore", headers=auth)).status_code == 200
    assert (await api.get(url, headers=auth)).status_code == 200


async def test_listing_filters_sorts_and_pages(app, client, factory):
    owner = await factory.org_with_owner()
    auth = await _key(client, owner, ["missions:read", "missions:write"])
    api = app.test_client()
    base = f"/api/v1/organizations/{owner.org_id}/missions"
    for i in range(7):
        await api.post(
            base,
            headers=auth,
            json={"name": f"Habitat {i}", "destination": "moon" if i % 2 else "mars", "crew_size": i + 1},
        )
    page = await (await api.get(f"{base}?destination=moon&sort=crew_size:desc&limit=2", headers=auth)).get_json()
    assert [m["crew_size"] for m in page["items"]] == [6, 4]
    rest = await (
        await api.get(f"{base}?destination=moon&sort=crew_size:desc&limit=2&cursor={page['next_cursor']}", headers=auth)
    ).get_json()
    assert [m["crew_size"] for m in rest["items"]] == [2] and rest["next_cursor"] is None
    other_sort = await api.get(f"{base}?sort=name:asc&cursor={page['next_cursor']}", headers=auth)
    assert other_sort.status_code == 400
    assert (await api.get(f"{base}?limit=1000", headers=auth)).status_code == 400
    found = await (await api.get(f"{base}?q=habitat%203", headers=auth)).get_json()
    assert [m["name"] for m in found["items"]] == ["Habitat 3"]


async def test_other_organizations_missions_and_unbound_credentials(app, client, factory):
    mine = await factory.org_with_owner()
    theirs = await factory.org_with_owner()
    their_auth = await _key(app.test_client(), theirs, ["missions:read", "missions:write"])
    their_mission = await (
        await app.test_client().post(
            f"/api/v1/organizations/{theirs.org_id}/missions", headers=their_auth, json=MISSION
        )
    ).get_json()
    my_auth = await _key(client, mine, ["missions:read", "missions:write"])
    api = app.test_client()
    for method, path in (("get", ""), ("patch", ""), ("delete", ""), ("get", "/crew")):
        response = await getattr(api, method)(
            f"/api/v1/missions/{their_mission['id']}{path}",
            headers=my_auth,
            **({"json": {"name": "x"}} if method == "patch" else {}),
        )
        assert response.status_code == 404, (method, path)
    assert (await api.get(f"/api/v1/organizations/{theirs.org_id}/missions", headers=my_auth)).status_code == 404
    # a browser session has no organization bound to it: it uses the organization's path
    assert (await client.get(f"/api/v1/missions/{their_mission['id']}")).status_code == 401
    read_only = await _key(app.test_client(), mine, ["missions:read"])
    denied = await api.post(f"/api/v1/organizations/{mine.org_id}/missions", headers=read_only, json=MISSION)
    assert denied.status_code == 403


async def test_organizations_are_named_by_id_or_address_in_json_paths(app, client, factory):
    owner = await factory.org_with_owner()
    other = await factory.org_with_owner()
    auth = await _key(client, owner, ["missions:read", "missions:write"])
    api = app.test_client()
    created = await api.post(f"/api/v1/organizations/{owner.org_slug}/missions", headers=auth, json=MISSION)
    assert created.status_code == 201
    by_slug = await (await api.get(f"/api/v1/organizations/{owner.org_slug}/missions", headers=auth)).get_json()
    by_id = await (await api.get(f"/api/v1/organizations/{owner.org_id}/missions", headers=auth)).get_json()
    assert by_slug == by_id and len(by_slug["items"]) == 1
    # the browser session, too
    session_list = await client.get(f"/api/v1/organizations/{owner.org_slug}/missions")
    assert session_list.status_code == 200 and (await session_list.get_json())["items"] == by_id["items"]
    # another organization's address is the same 404 as one that does not exist
    theirs = await api.get(f"/api/v1/organizations/{other.org_slug}/missions", headers=auth)
    nobody = await api.get("/api/v1/organizations/no-such-org/missions", headers=auth)
    assert theirs.status_code == nobody.status_code == 404
    assert await theirs.get_json() == await nobody.get_json()


async def test_named_sinks_are_mission_settings_that_reach_a_runs_snapshot(app, client, factory, maker):
    from webapp.core.tenancy import RequestContext, scope_session
    from webapp.simulations.engine.model import build_problem
    from webapp.simulations.service.runs import capture_snapshot

    owner = await factory.org_with_owner()
    auth = await _key(client, owner, ["missions:read", "missions:write"])
    api = app.test_client()
    base = f"/api/v1/organizations/{owner.org_id}/missions"
    sinks = {"water_recovery_capacity_kg": 40, "water_recovery_drain_kg_per_day": 6.5, "propellant_capacity_kg": 120}
    wrong = {"water_recovery_capacity_kg": 0, "air_system_drain_kg_per_day": -1}
    bad = await api.post(base, headers=auth, json=MISSION | {"settings": wrong})
    assert bad.status_code == 422
    assert set((await bad.get_json())["details"]["fields"]) == {
        "settings.water_recovery_capacity_kg", "settings.air_system_drain_kg_per_day"}  # fmt: skip
    created = await api.post(base, headers=auth, json=MISSION | {"settings": sinks})
    mission = await created.get_json()
    assert created.status_code == 201
    assert {k: mission["settings"][k] for k in sinks} == {k: float(v) for k, v in sinks.items()}
    assert mission["settings"]["air_system_capacity_kg"] is None  # unlimited unless set
    cleared = {"version": mission["version"], "settings": {"propellant_capacity_kg": None}}
    changed = await api.patch(created.headers["Location"], headers=auth, json=cleared)
    assert changed.status_code == 200 and (await changed.get_json())["settings"]["propellant_capacity_kg"] is None

    async with maker() as session, session.begin():
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        ctx = RequestContext(org_id=owner.org_id, user_id=owner.id)
        snapshot = await capture_snapshot(session, ctx, mission["id"])
    assert snapshot["mission"]["water_recovery_capacity_kg"] == 40.0
    problem = build_problem(snapshot, {"time_horizon_days": 10})
    water = {s.key: s for s in problem.sinks}["water_recovery"]
    assert (water.capacity_kg, water.drain_kg_per_day) == (40.0, 6.5)
    assert {s.key: s.capacity_kg for s in problem.sinks}["propellant"] is None
