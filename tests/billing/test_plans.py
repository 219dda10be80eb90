"""Plans: the public list (integer money, seats, limits, metered items; an ETag that answers 304 while nothing
changed), any version by id, staff's revisions (a price change adds a version and keeps the old one, a name change
does not), bad input refused with nothing changed, and the table closed to everyone but staff's audited bypass."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import csrf_from
from tests.helpers import login
from webapp.core.tenancy import scope_session


async def _offered(client) -> dict[str, dict]:
    answer = await client.get("/api/v1/billing/plans")
    assert answer.status_code == 200
    return {p["key"]: p for p in (await answer.get_json())["items"]}


async def test_the_public_plan_list_is_cacheable_and_complete(client):
    answer = await client.get("/api/v1/billing/plans")  # no credential: anyone may compare plans
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "public, max-age=300"
    plans = {p["key"]: p for p in (await answer.get_json())["items"]}
    assert {"free", "crew", "mission-control"} <= set(plans)
    free = plans["free"]
    assert free["is_default"] and free["monthly_price_minor"] == 0 and free["seat_limit"] == 3
    assert [p["is_default"] for p in plans.values()].count(True) == 1
    for plan in plans.values():
        assert isinstance(plan["monthly_price_minor"], int) and plan["currency"] == "USD"
        assert {m["metric"] for m in plan["meters"]} == {
            "simulation_runs",
            "monte_carlo_scenarios",
            "storage_gb",
            "api_calls",
        }
    assert [m["overage_price_minor"] for m in free["meters"]] == [None] * 4  # the free plan's amounts are limits
    paid = [p["monthly_price_minor"] for p in (await answer.get_json())["items"]]
    assert paid == sorted(paid)  # cheapest first

    etag = answer.headers["ETag"]
    again = await client.get("/api/v1/billing/plans", headers={"If-None-Match": etag})
    assert again.status_code == 304 and await again.get_data() == b"" and again.headers["ETag"] == etag
    one = await client.get(f"/api/v1/billing/plans/{free['id']}")
    assert one.status_code == 200 and (await one.get_json())["key"] == "free"
    missing = await client.get("/api/v1/billing/plans/0190f0f0-0000-7000-8000-000000000000")
    assert missing.status_code == 404


async def test_staff_revise_a_plan_into_a_new_version_and_rename_in_place(app, client, factory, count_rows):
    staff = await factory.platform_admin()
    await login(client, staff.email, staff.password)
    before = (await _offered(client))["mission-control"]
    etag = (await client.get("/api/v1/billing/plans")).headers["ETag"]
    page = await (await client.get("/admin/plans")).get_data(as_text=True)
    assert "Mission Control" in page and "new organizations start here" in page
    edit = await (await client.get(f"/admin/plans/{before['id']}/edit")).get_data(as_text=True)
    token = csrf_from(edit)
    form = dict(re.findall(r'name="([a-z_]+)"[^>]*?value="([^"]*)"', edit))
    form |= {"csrf_token": token, "description": before["description"]}
    assert form["monthly_price"] == f"{before['monthly_price_minor'] / 100:.2f}"

    # a price change: a new version; the old one stays, superseded, for the subscriptions that bought it
    price = before["monthly_price_minor"] + 100
    saved = await client.post(f"/admin/plans/{before['id']}", form=form | {"monthly_price": f"{price / 100:.2f}"})
    assert saved.status_code == 303
    after = (await _offered(client))["mission-control"]
    assert after["version"] == before["version"] + 1 and after["monthly_price_minor"] == price
    assert after["id"] != before["id"] and after["meters"] == before["meters"]
    assert after["monthly_credits"] == before["monthly_credits"] > 0  # a price change keeps the monthly grant
    old = await (await client.get(f"/api/v1/billing/plans/{before['id']}")).get_json()
    assert old["status"] == "superseded" and old["monthly_price_minor"] == before["monthly_price_minor"]
    assert (await client.get("/api/v1/billing/plans", headers={"If-None-Match": etag})).status_code == 200
    audited = "action = 'billing.plan_version' AND entity_id = :i AND actor_user_id = :u"
    assert await count_rows("audit_logs", audited, i=after["id"], u=staff.id) == 1

    # a new name alone changes the version in place
    edit = await (await client.get(f"/admin/plans/{after['id']}/edit")).get_data(as_text=True)
    form = dict(re.findall(r'name="([a-z_]+)"[^>]*?value="([^"]*)"', edit)) | {"csrf_token": csrf_from(edit)}
    renamed = await client.post(f"/admin/plans/{after['id']}", form=form | {"name": "Mission Control"})
    assert renamed.status_code == 303
    assert (await _offered(client))["mission-control"]["version"] == after["version"]

    # bad input: a clear 422 and nothing changes
    for bad, message in (
        ({"monthly_price": "49.999"}, "at most two decimals"),
        ({"monthly_price": "-1"}, "0 or more"),
        ({"included_seats": "30", "seat_limit": "20"}, "cannot be below the included seats"),
        ({"api_calls_unit": "0"}, "Number must be between 1 and"),
        ({"monthly_credits": "-5"}, "Number must be between 0 and"),
    ):
        refused = await client.post(f"/admin/plans/{after['id']}", form=form | bad)
        assert refused.status_code == 422 and message in await refused.get_data(as_text=True), bad
    assert (await _offered(client))["mission-control"]["id"] == after["id"]
    # the old version is not a form anyone can save any more
    stale = await client.post(f"/admin/plans/{before['id']}", form=form | {"monthly_price": "1.00"})
    assert stale.status_code == 409 and "replaced" in await stale.get_data(as_text=True)
    # the credits a plan grants each month are part of what it gives: a new version, shown on the staff page
    grant = before["monthly_credits"] + 5000
    regranted = await client.post(f"/admin/plans/{after['id']}", form=form | {"monthly_credits": str(grant)})
    assert regranted.status_code == 303
    latest = (await _offered(client))["mission-control"]
    assert latest["version"] == after["version"] + 1 and latest["monthly_credits"] == grant
    assert f"{grant:,}" in await (await client.get("/admin/plans")).get_data(as_text=True)
    edit = await (await client.get(f"/admin/plans/{latest['id']}/edit")).get_data(as_text=True)
    form = dict(re.findall(r'name="([a-z_]+)"[^>]*?value="([^"]*)"', edit))
    form |= {"csrf_token": csrf_from(edit), "description": latest["description"]}
    restored = await client.post(  # (other tests count on the seeded grant)
        f"/admin/plans/{latest['id']}", form=form | {"monthly_credits": str(before["monthly_credits"])}
    )
    assert restored.status_code == 303
    assert (await _offered(client))["mission-control"]["monthly_credits"] == before["monthly_credits"]

    # nobody else sees the staff pages
    owner = await factory.org_with_owner()
    other = app.test_client()
    await login(other, owner.email, owner.password)
    assert (await other.get("/admin/plans")).status_code == 404
    assert (await other.post(f"/admin/plans/{after['id']}", form=form)).status_code in (403, 404)


async def test_only_staff_bypass_writes_plans_at_the_database(maker):
    async with maker() as session:
        await session.begin()
        await scope_session(session)
        assert (await session.execute(text("SELECT count(*) FROM billing_plans"))).scalar_one() >= 3
        with pytest.raises(DBAPIError, match="row-level security"):
            await session.execute(
                text(
                    "INSERT INTO billing_plans (id, key, version, name, monthly_price_minor, yearly_price_minor, "
                    "included_seats) VALUES (gen_random_uuid(), 'sneaky', 1, 'Sneaky', 0, 0, 1)"
                )
            )
