"""Idempotency keys on API writes (Stripe's model): a retry with the same key and request gets the first answer again
and changes nothing; the same key with another request is a 422; a refused request's answer is kept too; a key is
1–255 printable characters; after a day the key is free again; concurrent requests with one key run once."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text

from tests.helpers import api_key_headers
from webapp.core.permissions import SystemRole

MISSION = {"name": "Shackleton Base", "destination": "moon", "crew_size": 4}


async def _missions(owner_engine, org_id, name: str) -> int:
    async with owner_engine.connect() as conn:
        found = await conn.execute(
            text("SELECT count(*) FROM missions WHERE organization_id = :o AND name = :n"), {"o": org_id, "n": name}
        )
        return found.scalar_one()


async def test_a_retry_gets_the_first_answer_and_creates_nothing_more(app, factory, owner_engine):
    owner = await factory.org_with_owner()
    client = app.test_client()
    auth = await api_key_headers(client, owner, ["missions:write", "missions:read"])
    url = f"/api/v1/organizations/{owner.org_id}/missions"
    first = await client.post(url, headers=auth | {"Idempotency-Key": "create-shackleton-1"}, json=MISSION)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = await client.post(url, headers=auth | {"Idempotency-Key": "create-shackleton-1"}, json=MISSION)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert await again.get_json() == await first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert await _missions(owner_engine, owner.org_id, MISSION["name"]) == 1

    other = await client.post(url, headers=auth | {"Idempotency-Key": "create-shackleton-1"},
                              json=MISSION | {"crew_size": 6})  # fmt: skip
    assert other.status_code == 422 and "different request" in (await other.get_json())["message"]
    assert await _missions(owner_engine, owner.org_id, MISSION["name"]) == 1

    without = await client.post(url, headers=auth, json=MISSION)  # no key: every POST runs (a name is unique)
    assert without.status_code == 409 and "Idempotent-Replayed" not in without.headers

    refused = await client.post(url, headers=auth | {"Idempotency-Key": "bad-one"}, json={"name": ""})
    replayed = await client.post(url, headers=auth | {"Idempotency-Key": "bad-one"}, json={"name": ""})
    assert refused.status_code == replayed.status_code == 422 and replayed.headers["Idempotent-Replayed"] == "true"
    assert await replayed.get_json() == await refused.get_json()

    for bad in ("x" * 256, "tab\there", "naïve"):
        malformed = await client.post(url, headers=auth | {"Idempotency-Key": bad}, json=MISSION | {"name": bad})
        assert malformed.status_code == 400, bad
        assert await _missions(owner_engine, owner.org_id, bad) == 0

    async with owner_engine.begin() as conn:  # a day later the key is free: the same request runs again
        await conn.execute(text("UPDATE api_idempotency_keys SET expires_at = now() - interval '1 second' "
                                "WHERE key = 'create-shackleton-1'"))  # fmt: skip
        await conn.execute(text("UPDATE missions SET name = 'Shackleton Base (first)' WHERE organization_id = :o"),
                           {"o": owner.org_id})  # fmt: skip
    later = await client.post(url, headers=auth | {"Idempotency-Key": "create-shackleton-1"}, json=MISSION)
    assert later.status_code == 201 and "Idempotent-Replayed" not in later.headers
    assert (await later.get_json())["id"] != (await first.get_json())["id"]


async def test_one_key_belongs_to_one_organization_and_one_caller(app, factory, owner_engine):
    first, second = await factory.org_with_owner(), await factory.org_with_owner()
    client = app.test_client()
    mine = await api_key_headers(client, first, ["missions:write"])
    theirs = await api_key_headers(app.test_client(), second, ["missions:write"])
    made = await client.post(f"/api/v1/organizations/{first.org_id}/missions",
                             headers=mine | {"Idempotency-Key": "shared-key"}, json=MISSION)  # fmt: skip
    elsewhere = await client.post(f"/api/v1/organizations/{second.org_id}/missions",
                                  headers=theirs | {"Idempotency-Key": "shared-key"}, json=MISSION)  # fmt: skip
    assert made.status_code == elsewhere.status_code == 201 and "Idempotent-Replayed" not in elsewhere.headers
    colleague = await factory.member(first, role=SystemRole.ADMIN)
    colleague_auth = await api_key_headers(app.test_client(), colleague, ["missions:write"])
    reused = await client.post(f"/api/v1/organizations/{first.org_id}/missions",
                               headers=colleague_auth | {"Idempotency-Key": "shared-key"}, json=MISSION)  # fmt: skip
    assert reused.status_code == 422  # another caller's key: never someone else's answer
    async with owner_engine.connect() as conn:
        rows = (await conn.execute(text("SELECT organization_id, status, response_status FROM api_idempotency_keys "
                                        "WHERE key = 'shared-key' ORDER BY created_at"))).all()  # fmt: skip
    assert [(r.organization_id, r.status, r.response_status) for r in rows] == [
        (first.org_id, "done", 201),
        (second.org_id, "done", 201),
    ]


async def test_concurrent_requests_with_one_key_run_once(live_stack, factory, owner_engine):
    owner = await factory.org_with_owner()
    async with httpx.AsyncClient(base_url=live_stack, timeout=30) as http:
        login = await http.post("/api/v1/auth/login", json={"email": owner.email, "password": owner.password,
                                                            "organization": owner.org_slug})  # fmt: skip
        auth = {"Authorization": f"Bearer {login.json()['access_token']}", "Idempotency-Key": "burst-7"}
        url = f"/api/v1/organizations/{owner.org_id}/missions"
        body = MISSION | {"name": "Burst Base"}
        answers = await asyncio.gather(*(http.post(url, headers=auth, json=body) for _ in range(6)))
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {201, 409} and 201 in statuses, statuses
    created = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(created) == 1  # every 201 is the one creation, first or replayed
    assert all("still running" in a.json()["message"] for a in answers if a.status_code == 409)
    assert await _missions(owner_engine, owner.org_id, "Burst Base") == 1
