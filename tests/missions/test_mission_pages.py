"""Mission pages: create with validation, list search/filter/sort/load more, dashboard, stale edit (409 fragment),
delete with undo, crew assignment rules, CSV export, and 404 for another organization's mission."""

from __future__ import annotations

import csv
import io
import re

from tests.helpers import login


async def _create(client, slug, token, **fields):
    form = {
        "csrf_token": token,
        "name": "Mars Settlement Alpha",
        "destination": "mars",
        "crew_size": "4",
        "status": "planning",
    } | fields
    return await client.post(f"/o/{slug}/missions", form=form)


async def test_create_validate_and_open_the_dashboard(client, factory, count_rows):
    owner = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    bad = await _create(
        client,
        owner.org_slug,
        token,
        name="",
        crew_size="0",
        launch_date="2031-07-10",
        landing_date="2031-01-01",
        energy_budget_kwh_per_day="-5",
    )
    page = await bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Must be at least 1" in page and "Must be at least 0" in page
    assert await count_rows("missions", "organization_id = :o", o=owner.org_id) == 0
    tank = await _create(client, owner.org_slug, token, water_recovery_capacity_kg="-3", propellant_capacity_kg="0")
    assert tank.status_code == 422  # a sink's capacity is above 0 (or empty: no limit)
    assert await count_rows("missions", "organization_id = :o", o=owner.org_id) == 0
    created = await _create(client, owner.org_slug, token, launch_date="2031-07-10", landing_date="2031-12-10",
                            water_recovery_capacity_kg="40", water_recovery_drain_kg_per_day="6.5")  # fmt: skip
    assert created.status_code == 303
    dashboard = await client.get(created.headers["Location"])
    html = await dashboard.get_data(as_text=True)
    assert dashboard.status_code == 200
    # 4 crew x 1.829 kg per crew-member-day (all ten reference materials)
    assert "Daily waste: 7.32 kg/day" in html and '<svg role="img"' in html
    assert "Crew: 0 of 4 seats" in html and "60 kWh/day" in html
    assert "<dt>Water recovery</dt><dd>40 kg · takes 6.5 kg/day</dd>" in html
    assert "<dt>Propellant storage</dt><dd>no limit</dd>" in html


async def test_search_filter_sort_and_load_more(client, factory):
    owner = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    for i in range(30):
        await _create(
            client, owner.org_slug, token, name=f"Lunar Base {i:02d}", destination="moon", crew_size=str(1 + i % 6)
        )
    await _create(
        client,
        owner.org_slug,
        token,
        name="Ares Transit",
        destination="transit",
        description="Cruise phase waste study",
    )
    base = f"/o/{owner.org_slug}/missions"
    first = await (await client.get(f"{base}?sort=name:asc")).get_data(as_text=True)
    assert first.index("Ares Transit") < first.index("Lunar Base 00") and "Load more" in first
    cursor = first.split("cursor=")[1].split('"')[0].replace("&amp;", "&")
    more = await client.get(f"{base}?sort=name:asc&cursor={cursor}", headers={"HX-Request": "true"})
    rows = await more.get_data(as_text=True)
    assert "Lunar Base 29" in rows and "Lunar Base 00" not in rows and "<html" not in rows
    found = await client.get(f"{base}?q=cruis", headers={"HX-Request": "true", "HX-Target": "mission-results"})
    text = await found.get_data(as_text=True)
    assert "Ares Transit" in text and "Lunar Base" not in text
    assert found.headers["Vary"] == "HX-Request"
    moon = await (await client.get(f"{base}?destination=moon&sort=crew_size:desc")).get_data(as_text=True)
    assert "Ares Transit" not in moon
    bad_sort = await client.get(f"{base}?sort=secret:asc")
    assert bad_sort.status_code == 400
    exported = await client.get(f"{base}/export.csv?destination=moon")
    records = list(csv.DictReader(io.StringIO(await exported.get_data(as_text=True))))
    assert len(records) == 30 and {r["destination"] for r in records} == {"moon"}


async def test_a_stale_edit_shows_both_versions_and_changes_nothing(client, factory, owner_engine):
    from sqlalchemy import text

    owner = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    mission_url = (await _create(client, owner.org_slug, token)).headers["Location"]
    form = {
        "csrf_token": token,
        "name": "Mars Settlement Alpha",
        "destination": "mars",
        "crew_size": "4",
        "status": "planning",
        "version": "1",
        "energy_budget_kwh_per_day": "60",
        "crew_time_h_per_day": "2",
        "regolith_supply_kg_per_day": "60",
        "recycle_target_kg_per_day": "0",
        "wet_waste_cap_days": "3",
    }
    first = await client.post(mission_url, form=form | {"energy_budget_kwh_per_day": "80"})
    assert first.status_code == 303
    stale = await client.post(
        mission_url, form=form | {"energy_budget_kwh_per_day": "40"}, headers={"HX-Request": "true"}
    )
    html = await stale.get_data(as_text=True)
    assert stale.status_code == 409 and "Someone saved this mission" in html
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td>([^<]+)</td><td>([^<]+)</td></tr>', html)
    assert [(theirs, mine) for _, theirs, mine in rows] == [("80", "40")]  # 60 and 60.000 are no conflict
    assert "Keep mine" in html and "Use theirs" in html
    assert '<form id="mission-form"' in html and "<html" not in html
    async with owner_engine.connect() as conn:
        saved = (
            await conn.execute(
                text("SELECT energy_budget_kwh_per_day, version FROM missions WHERE organization_id = :o"),
                {"o": owner.org_id},
            )
        ).one()
    assert (saved[0], saved[1]) == (80, 2)


async def test_delete_and_undo(client, factory, count_rows):
    owner = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    mission_url = (await _create(client, owner.org_slug, token)).headers["Location"]
    mission_id = mission_url.rsplit("/", 1)[1]
    deleted = await client.post(
        f"{mission_url}/delete",
        form={"csrf_token": token},
        headers={"HX-Request": "true", "HX-Target": f"mission-{mission_id}"},
    )
    assert "was deleted" in await deleted.get_data(as_text=True) and "Undo" in await deleted.get_data(as_text=True)
    assert (await client.get(mission_url)).status_code == 404
    restored = await client.post(
        f"{mission_url}/restore",
        form={"csrf_token": token},
        headers={"HX-Request": "true", "HX-Target": f"mission-{mission_id}"},
    )
    assert "Mars Settlement Alpha" in await restored.get_data(as_text=True)
    assert await count_rows("missions", "id = :m AND deleted_at IS NULL", m=mission_id) == 1
    assert (
        await count_rows(
            "audit_logs", "entity_id = :m AND action IN ('mission.delete', 'mission.restore')", m=mission_id
        )
        == 2
    )


async def test_crew_seats_one_commander_members_only_and_history(client, factory, count_rows, owner_engine):
    from sqlalchemy import text

    owner = await factory.org_with_owner()
    crew = [await factory.member(owner) for _ in range(2)]
    outsider = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    mission_url = (await _create(client, owner.org_slug, token, crew_size="2")).headers["Location"]
    htmx = {"HX-Request": "true"}

    async def assign(user_id, role="commander", spec=""):
        return await client.post(
            f"{mission_url}/crew",
            form={"csrf_token": token, "user_id": str(user_id), "crew_role": role, "specialization": spec},
            headers=htmx,
        )

    assert (await assign(crew[0].id)).status_code == 200
    page = await (await client.get(mission_url)).get_data(as_text=True)
    picker = page.split('name="user_id"')[1].split("</select>")[0]
    assert str(crew[0].id) not in picker and str(crew[1].id) in picker  # who is on the crew is not offered again
    second_commander = await assign(crew[1].id)
    assert second_commander.status_code == 409 and "already has a commander" in await second_commander.get_data(
        as_text=True
    )
    assert (await assign(outsider.id, "pilot")).status_code == 422  # not a member here
    assert (await assign(crew[1].id, "pilot", "EVA")).status_code == 200
    full = await assign(owner.id, "scientist")
    assert full.status_code == 409 and "seats filled" in await full.get_data(as_text=True)
    mission_id = mission_url.rsplit("/", 1)[1]
    section = await (await client.get(mission_url)).get_data(as_text=True)
    assert "Crew: 2 of 2 seats" in section and "All seats are filled" in section

    async with owner_engine.connect() as conn:
        pilot_id, version = (
            await conn.execute(
                text("SELECT id, version FROM mission_crew WHERE mission_id = :m AND user_id = :u"),
                {"m": mission_id, "u": crew[1].id},
            )
        ).one()
    edit_url = f"{mission_url}/crew/{pilot_id}/edit"
    as_row = await (await client.get(edit_url, headers=htmx)).get_data(as_text=True)
    as_page = await (await client.get(edit_url)).get_data(as_text=True)  # without JavaScript: a page of its own
    assert as_row.startswith(f'<tr id="crew-{pilot_id}" class="editing"') and "<h1>" not in as_row
    assert as_page.startswith("<!doctype html>") and f'<tr id="crew-{pilot_id}" class="editing"' in as_page
    edited = await client.post(
        f"{mission_url}/crew/{pilot_id}",
        headers=htmx,
        form={"csrf_token": token, "crew_role": "flight_engineer", "specialization": "ISRU", "version": str(version)},
    )
    row = await edited.get_data(as_text=True)
    assert edited.status_code == 200 and row.startswith(f'<tr id="crew-{pilot_id}"') and "Flight engineer" in row
    removed = await client.post(f"{mission_url}/crew/{pilot_id}/remove", form={"csrf_token": token}, headers=htmx)
    assert "Crew: 1 of 2 seats" in await removed.get_data(as_text=True)
    assert "Past crew (1)" in await removed.get_data(as_text=True)
    assert (
        await count_rows(
            "mission_crew", "id = :c AND removed_at IS NOT NULL AND removed_by = :u", c=pilot_id, u=owner.id
        )
        == 1
    )
    back = await client.post(f"{mission_url}/crew/{pilot_id}/restore", form={"csrf_token": token}, headers=htmx)
    assert "Crew: 2 of 2 seats" in await back.get_data(as_text=True)

    # leaving the organization ends their seat, the history stays
    await client.post(f"/o/{owner.org_slug}/members/{crew[0].id}/remove", form={"csrf_token": token})
    assert await count_rows("mission_crew", "user_id = :u AND removed_at IS NOT NULL", u=crew[0].id) == 1


async def test_a_role_for_one_mission_works_on_that_mission_only(app, client, factory, owner_engine):
    from sqlalchemy import text

    from webapp.core.permissions import SystemRole

    owner = await factory.org_with_owner()
    viewer = await factory.member(owner, role=SystemRole.VIEWER)
    token = await login(client, owner.email, owner.password)
    alpha = (await _create(client, owner.org_slug, token, name="Alpha")).headers["Location"]
    beta = (await _create(client, owner.org_slug, token, name="Beta")).headers["Location"]
    async with owner_engine.connect() as conn:
        commander = (
            await conn.execute(
                text("SELECT id FROM roles WHERE organization_id = :o AND key = 'mission_commander'"),
                {"o": owner.org_id},
            )
        ).scalar_one()
    granted = await client.post(
        f"/o/{owner.org_slug}/roles/assignments",
        form={
            "csrf_token": token,
            "user_id": str(viewer.id),
            "role_id": str(commander),
            "mission_id": alpha.rsplit("/", 1)[1],
            "reason": "leads Alpha",
        },
    )
    assert granted.status_code == 303
    listing = await (await client.get(f"/o/{owner.org_slug}/roles/assignments")).get_data(as_text=True)
    assert ">Alpha</a>" in listing

    crew_client = app.test_client()
    crew_token = await login(crew_client, viewer.email, viewer.password)
    form = {
        "csrf_token": crew_token,
        "name": "Alpha",
        "destination": "mars",
        "crew_size": "6",
        "status": "active",
        "energy_budget_kwh_per_day": "60",
        "crew_time_h_per_day": "2",
        "regolith_supply_kg_per_day": "60",
        "recycle_target_kg_per_day": "0",
    }
    assert (await crew_client.post(alpha, form=form)).status_code == 303
    assert (await crew_client.post(beta, form=form | {"name": "Beta"})).status_code == 403
    assert (await crew_client.get(f"/o/{owner.org_slug}/missions/new")).status_code == 403
    bad_scope = await client.post(
        f"/o/{owner.org_slug}/roles/assignments",
        form={
            "csrf_token": token,
            "user_id": str(viewer.id),
            "role_id": str(commander),
            "mission_id": "0190f0f0-0000-7000-8000-000000000000",
        },
    )
    assert bad_scope.status_code == 422
