"""Re-index jobs: an organization's admin starts one over JSON (202 + Location, 409 while one runs), a worker runs
it with fenced progress to the same rows live maintenance wrote; staff rebuild every organization; the pages show
the job live; nobody else reaches them."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text

from tests.helpers import api_key_headers, login
from tests.missions.test_missions_api import MISSION
from webapp.search import jobs
from webapp.search.enums import ReindexStatus


async def _run(app, maker, owner_engine, job_id: str, org_id) -> dict:
    """Do what the worker does (a live worker of the same test session may get there first), then the job."""
    state = app.extensions["closedloop"]
    await jobs.run_reindex(
        maker, state["redis"], state["settings"].redis_namespace, uuid.UUID(job_id), org_id and uuid.UUID(str(org_id))
    )
    for _ in range(300):
        async with owner_engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT status, progress, done, total, rows, attempt FROM search_reindex_jobs WHERE id = :i"),
                    {"i": job_id},
                )
            ).one()
        if ReindexStatus(row.status).is_final:
            return dict(row._mapping)
        await asyncio.sleep(0.2)
    raise AssertionError("the job never finished")


async def _index(owner_engine, org_id) -> list:
    async with owner_engine.connect() as conn:
        return (
            await conn.execute(
                text(
                    "SELECT entity_type, entity_id, title, body, tags, search_vector::text FROM search_index "
                    "WHERE organization_id = :o ORDER BY 1, 2"
                ),
                {"o": org_id},
            )
        ).all()


async def test_an_admin_rebuilds_the_index_over_json(app, client, factory, maker, owner_engine, count_rows):
    owner = await factory.org_with_owner()
    auth = await api_key_headers(app.test_client(), owner, ["missions:read", "missions:write", "search:reindex"])
    await client.post(f"/api/v1/organizations/{owner.org_id}/missions", headers=auth, json=MISSION)
    before = await _index(owner_engine, owner.org_id)
    async with owner_engine.begin() as conn:  # the index lost rows (a restore from backup, say)
        await conn.execute(text("DELETE FROM search_index WHERE organization_id = :o"), {"o": owner.org_id})

    started = await client.post("/api/v1/search/reindex", headers=auth, json={})
    job = await started.get_json()
    assert started.status_code == 202 and started.headers["Location"] == f"/api/v1/search/reindex/{job['id']}"
    assert job["status"] == "queued" and job["finished"] is False
    again = await client.post("/api/v1/search/reindex", headers=auth, json={"entity_type": "missions"})
    assert again.status_code == 409 and (await again.get_json())["details"]["current"]["id"] == job["id"]

    done = await _run(app, maker, owner_engine, job["id"], owner.org_id)
    assert done["status"] == "succeeded" and done["progress"] == 100 and done["done"] == done["total"] == 6
    assert done["rows"] == len(before)
    assert await _index(owner_engine, owner.org_id) == before
    polled = await (await client.get(started.headers["Location"], headers=auth)).get_json()
    assert polled["status"] == "succeeded" and polled["finished"] is True

    # one kind only, and bad kinds are refused before anything is queued
    one = await (await client.post("/api/v1/search/reindex", headers=auth, json={"entity_type": "missions"})).get_json()
    assert (await _run(app, maker, owner_engine, one["id"], owner.org_id))["total"] == 1
    bad = await client.post("/api/v1/search/reindex", headers=auth, json={"entity_type": "crew-assignments"})
    assert bad.status_code == 422
    assert await count_rows("search_reindex_jobs", "organization_id = :o", o=owner.org_id) == 2

    # a second delivery of a finished job does nothing; others see neither the job nor the route
    state = app.extensions["closedloop"]
    assert (
        await jobs.run_reindex(
            maker, state["redis"], state["settings"].redis_namespace, uuid.UUID(job["id"]), owner.org_id
        )
        is None
    )
    other = await factory.org_with_owner()
    their = await api_key_headers(app.test_client(), other, ["search:reindex"])
    assert (await client.get(started.headers["Location"], headers=their)).status_code == 404
    reader = await api_key_headers(app.test_client(), owner, ["missions:read"])
    assert (await client.post("/api/v1/search/reindex", headers=reader, json={})).status_code == 403


async def test_staff_rebuild_every_organization_and_the_pages_follow_it(app, client, factory, maker, owner_engine):
    first, second = await factory.org_with_owner(), await factory.org_with_owner()
    before = {o.org_id: await _index(owner_engine, o.org_id) for o in (first, second)}
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("DELETE FROM search_index WHERE organization_id IN (:a, :b)"), {"a": first.org_id, "b": second.org_id}
        )

    # an owner may not reach the staff routes: they do not exist for them
    owner_client = app.test_client()
    owner_token = await login(owner_client, first.email, first.password)
    assert (
        await owner_client.post("/api/v1/admin/rebuild-search", headers={"X-CSRF-Token": owner_token})
    ).status_code == 404
    assert (await owner_client.get("/admin/search")).status_code == 404

    staff = await factory.platform_admin()
    token = await login(client, staff.email, staff.password)
    started = await client.post("/api/v1/admin/rebuild-search", headers={"X-CSRF-Token": token})
    job = await started.get_json()
    assert started.status_code == 202, job
    assert (await client.post("/api/v1/admin/rebuild-search", headers={"X-CSRF-Token": token})).status_code == 409
    page = await (await client.get("/admin/search")).get_data(as_text=True)
    assert "Search index of every organization" in page and f"/admin/search/jobs/{job['id']}/events" in page

    done = await _run(app, maker, owner_engine, job["id"], None)
    assert done["status"] == "succeeded" and done["done"] == done["total"] and done["total"] >= 12
    for org in (first, second):
        assert await _index(owner_engine, org.org_id) == before[org.org_id]
    progress = await client.get(f"/admin/search/jobs/{job['id']}/progress", headers={"HX-Request": "true"})
    assert progress.status_code == 286 and "Rebuilt everything" in await progress.get_data(as_text=True)
    async with owner_engine.connect() as conn:
        audited = await conn.execute(
            text("SELECT count(*) FROM audit_logs WHERE action = 'platform.search_rebuild' AND entity_id = :j"),
            {"j": job["id"]},
        )
        assert audited.scalar_one() == 1

    # the organization's own page: sizes, a rebuild from the form, its progress
    page = await (await owner_client.get(f"/o/{first.org_slug}/search/index")).get_data(as_text=True)
    assert "What is indexed" in page and "Processing modules" in page
    posted = await owner_client.post(
        f"/o/{first.org_slug}/search/index/rebuild", form={"csrf_token": owner_token, "entity_type": "missions"}
    )
    assert posted.status_code == 303
    page = await (await owner_client.get(f"/o/{first.org_slug}/search/index")).get_data(as_text=True)
    assert "/search/index/jobs/" in page and 'id="job-progress"' in page
