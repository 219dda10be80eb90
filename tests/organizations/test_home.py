"""The organization overview: figures and lists of this organization only (they appear only under its RLS scope), a
getting-started checklist that ticks itself off, activity told as sentences, and what waits for the viewer."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from sqlalchemy import text

from tests.helpers import login
from webapp.core.permissions import SystemRole


async def _mission(client, slug, token, name="Artemis Base", crew_size="4"):
    form = {"csrf_token": token, "name": name, "destination": "moon", "crew_size": crew_size, "status": "planning"}
    created = await client.post(f"/o/{slug}/missions", form=form)
    assert created.status_code == 303
    return created.headers["Location"].rstrip("/").rsplit("/", 1)[1]


async def _overview(client, slug) -> str:
    response = await client.get(f"/o/{slug}/")
    assert response.status_code == 200
    return await response.get_data(as_text=True)


def _kpi(body: str, label: str) -> str:
    return re.search(rf'kpi-label">{label}</span><span class="kpi-value">([^<]+)<', body).group(1).strip()


async def test_overview_shows_this_organizations_figures_and_missions_only(client, factory):
    owner = await factory.org_with_owner(name="Gateway Station")
    await factory.member(owner)
    stranger = await factory.org_with_owner(name="Hellas Depot")
    token = await login(client, stranger.email, stranger.password)
    await _mission(client, stranger.org_slug, token, name="Hellas Outpost")
    await client.post("/logout", form={"csrf_token": token})
    token = await login(client, owner.email, owner.password)
    await _mission(client, owner.org_slug, token, name="Artemis Base")
    body = await _overview(client, owner.org_slug)
    assert "Gateway Station" in body and "Artemis Base" in body
    assert "Hellas Outpost" not in body and stranger.email not in body
    assert _kpi(body, "Missions") == "1" and _kpi(body, "Members") == "2"  # the other member counts under RLS


async def test_getting_started_ticks_itself_off_and_links_what_the_viewer_may_do(client, factory):
    owner = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    body = await _overview(client, owner.org_slug)
    assert "Getting started" in body and "1 of 6 done" in body
    assert f'href="/o/{owner.org_slug}/missions/new">Plan a mission</a>' in body
    await _mission(client, owner.org_slug, token)
    body = await _overview(client, owner.org_slug)
    assert "2 of 6 done" in body and 'missions/new">Plan a mission</a>' not in body

    viewer = await factory.member(owner, role=SystemRole.VIEWER)
    await client.post("/logout", form={"csrf_token": token})
    await login(client, viewer.email, viewer.password)
    body = await _overview(client, owner.org_slug)
    assert "Run a first simulation" in body and 'members">Invite your team</a>' not in body  # no link to refusals


async def test_activity_reads_as_sentences_with_names(client, factory):
    owner = await factory.org_with_owner(name="Shackleton Works")
    crew = await factory.member(owner, role=SystemRole.CREW_MEMBER, name="Yuri Gagarin")
    token = await login(client, owner.email, owner.password)
    mission_id = await _mission(client, owner.org_slug, token, name="Mars Settlement Alpha")
    assigned = await client.post(
        f"/o/{owner.org_slug}/missions/{mission_id}/crew",
        form={"csrf_token": token, "user_id": str(crew.id), "crew_role": "flight_engineer", "specialization": ""},
    )
    assert assigned.status_code == 303
    body = await _overview(client, owner.org_slug)
    assert "assigned Yuri Gagarin to Mars Settlement Alpha as flight engineer" in body
    assert "created the mission Mars Settlement Alpha" in body
    assert "mission.crew_assign" not in body and "mission.create" not in body


async def test_a_pending_break_glass_request_waits_for_approvers_with_a_badge(client, factory, owner_engine):
    owner = await factory.org_with_owner()
    crew = await factory.member(owner, role=SystemRole.CREW_MEMBER, name="Valentina Tereshkova")
    token = await login(client, owner.email, owner.password)
    created = await client.post(
        f"/o/{owner.org_slug}/roles",
        data=urlencode(
            [("csrf_token", token), ("name", "Emergency"), ("permissions", "members:read"), ("break_glass", "y")]
        ),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert created.status_code == 303
    body = await _overview(client, owner.org_slug)
    assert "Waiting for you" not in body and "nav-badge" not in body
    await client.post("/logout", form={"csrf_token": token})
    async with owner_engine.connect() as conn:
        role_id = (
            await conn.execute(
                text("SELECT id FROM roles WHERE organization_id = :o AND key = 'emergency'"), {"o": owner.org_id}
            )
        ).scalar_one()

    token = await login(client, crew.email, crew.password)
    asked = await client.post(
        f"/o/{owner.org_slug}/break-glass",
        form={
            "csrf_token": token,
            "role_id": str(role_id),
            "minutes": "30",
            "reason": "The oxygen module is down and I must reassign its recipes now.",
        },
    )
    assert asked.status_code == 303
    mine = await (await client.get(f"/o/{owner.org_slug}/break-glass")).get_data(as_text=True)
    assert "Withdraw" in mine  # the requester may withdraw their own request
    await client.post("/logout", form={"csrf_token": token})

    await login(client, owner.email, owner.password)
    body = await _overview(client, owner.org_slug)
    assert "Waiting for you" in body and "Valentina Tereshkova" in body and "asks for break-glass access" in body
    assert '<span class="nav-badge"' in body and "1 waiting for your approval" in body
    page = await (await client.get(f"/o/{owner.org_slug}/break-glass")).get_data(as_text=True)
    assert "Approve" in page and "Withdraw" not in page  # approvers decide; they do not withdraw others' requests


async def test_switcher_lists_only_my_organizations(client, factory):
    mine = await factory.org_with_owner(name="Tranquility Base")
    other = await factory.org_with_owner(name="Hellas Planitia Depot")
    await login(client, mine.email, mine.password)
    body = await (await client.get("/orgs")).get_data(as_text=True)
    assert "Tranquility Base" in body and "Hellas Planitia Depot" not in body
    assert other.org_slug not in body
    menu = await (await client.get("/orgs", headers={"HX-Request": "true"})).get_data(as_text=True)
    assert "Tranquility Base" in menu and "<html" not in menu  # the sidebar's menu gets the list alone
