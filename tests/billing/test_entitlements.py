"""Entitlements: a new organization starts on the free plan; inviting past its seats and creating a mission past its
limit answer 402 (JSON, with what is used and where to upgrade) or an inline message with an upgrade link (HTML), and
nothing is created; an organization whose payment is overdue past the grace period is read-only (402 on writes)
while reading still works."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import csrf_from
from tests.helpers import login, token_headers


async def test_a_new_organization_is_on_the_free_plan_with_a_subscription(client, factory):
    owner = await factory.org_with_owner(plan="free")
    auth = await token_headers(client, owner)
    answer = await client.get("/api/v1/billing/subscription", headers=auth)
    assert answer.status_code == 200, await answer.get_json()
    sub = await answer.get_json()
    assert sub["plan"]["key"] == "free" and sub["status"] == "active" and sub["provider"] is None
    assert sub["seats"] == 3 and not sub["read_only"]
    usage = {u["limit"]: u for u in sub["usage"]}
    assert usage["seats"] == {"limit": "seats", "used": 1, "allowed": 3}
    assert usage["missions"]["allowed"] == 3 and usage["simulation_runs"]["allowed"] == 50


async def test_inviting_past_the_seats_is_402_with_nothing_sent(client, factory, count_rows):
    owner = await factory.org_with_owner(plan="free")
    await factory.member(owner)
    auth = await token_headers(client, owner)
    roles = await (await client.get(f"/api/v1/organizations/{owner.org_id}/roles", headers=auth)).get_json()
    crew = next(r["id"] for r in roles["items"] if r["key"] == "crew_member")
    url = f"/api/v1/organizations/{owner.org_id}/invitations"
    first = await client.post(url, headers=auth, json={"email": "third@example.org", "role_id": crew})
    assert first.status_code == 201  # owner + member + this invitation = the 3 free seats
    refused = await client.post(url, headers=auth, json={"email": "fourth@example.org", "role_id": crew})
    assert refused.status_code == 402
    body = await refused.get_json()
    assert body["error"] == "PaymentRequired" and body["details"]["limit"] == "seats"
    assert body["details"]["used"] == 3 and body["details"]["allowed"] == 3
    assert body["details"]["upgrade_url"] == f"/o/{owner.org_slug}/billing"
    assert await count_rows("invitations", "organization_id = :o", o=owner.org_id) == 1

    # the page says it next to the form, with the way to upgrade
    token = await login(client, owner.email, owner.password)
    page = await client.get(f"/o/{owner.org_slug}/members")
    assert "3 of 3 seats on the Free plan taken" in await page.get_data(as_text=True)
    form = {"csrf_token": token, "email": "fourth@example.org", "role_id": crew}
    inline = await client.post(f"/o/{owner.org_slug}/members/invitations", form=form)
    html = await inline.get_data(as_text=True)
    assert inline.status_code == 402 and "All 3 seats of the Free plan are taken" in html
    assert f'href="/o/{owner.org_slug}/billing">See plans and upgrade' in html
    assert await count_rows("invitations", "organization_id = :o", o=owner.org_id) == 1


async def test_a_mission_past_the_plan_limit_is_402_in_json_and_in_the_page(client, factory, count_rows):
    owner = await factory.org_with_owner(plan="free")
    auth = await token_headers(client, owner)
    url = f"/api/v1/organizations/{owner.org_id}/missions"
    for i in range(3):
        made = await client.post(url, headers=auth, json={"name": f"Base {i}", "destination": "moon", "crew_size": 4})
        assert made.status_code == 201, await made.get_json()
    refused = await client.post(url, headers=auth, json={"name": "Base 4", "destination": "moon", "crew_size": 4})
    assert refused.status_code == 402
    assert {"limit": "missions", "used": 3, "allowed": 3}.items() <= (await refused.get_json())["details"].items()
    token = await login(client, owner.email, owner.password)
    page = await client.post(
        f"/o/{owner.org_slug}/missions",
        form={"csrf_token": token, "name": "Base 5", "destination": "moon", "crew_size": "4"},
    )
    html = await page.get_data(as_text=True)
    assert page.status_code == 402 and "The Free plan includes 3 missions" in html and "See plans and upgrade" in html
    assert await count_rows("missions", "organization_id = :o", o=owner.org_id) == 3


async def test_overdue_past_the_grace_period_makes_the_organization_read_only(client, factory, owner_engine):
    owner = await factory.org_with_owner(plan="crew")
    auth = await token_headers(client, owner)
    url = f"/api/v1/organizations/{owner.org_id}/missions"
    async with owner_engine.begin() as conn:  # the provider said past_due 20 days ago (grace: 14 days)
        await conn.execute(
            text(
                "UPDATE billing_subscriptions SET status = 'past_due', past_due_since = now() - interval '20 days', "
                "provider = 'sandbox', provider_subscription_id = 'sub_x_' || organization_id "
                "WHERE organization_id = :o"
            ),
            {"o": owner.org_id},
        )
    auth = await token_headers(client, owner)  # the membership (and its billing hold) is read per request
    refused = await client.post(url, headers=auth, json={"name": "Late", "destination": "mars", "crew_size": 4})
    assert refused.status_code == 402 and (await refused.get_json())["details"]["limit"] == "payment"
    assert (await client.get(url, headers=auth)).status_code == 200  # reading still works
    sub = await (await client.get("/api/v1/billing/subscription", headers=auth)).get_json()
    assert sub["read_only"] and sub["status"] == "past_due" and sub["grace_ends_at"]

    async with owner_engine.begin() as conn:  # within the grace period it works
        await conn.execute(
            text(
                "UPDATE billing_subscriptions SET past_due_since = now() - interval '2 days' WHERE organization_id = :o"
            ),
            {"o": owner.org_id},
        )
    made = await client.post(url, headers=auth, json={"name": "On time", "destination": "mars", "crew_size": 4})
    assert made.status_code == 201


async def test_the_billing_page_shows_plan_usage_and_choices(client, factory):
    owner = await factory.org_with_owner(plan="free")
    await login(client, owner.email, owner.password)
    page = await client.get(f"/o/{owner.org_slug}/billing")
    html = await page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Free plan" in html and 'aria-labelledby="usage-seats"' in html
    assert "Switch to Crew" in html and "Switch to Mission Control" in html
    viewer = await factory.member(owner, role="viewer")
    other = client.app.test_client()
    await login(other, viewer.email, viewer.password)
    assert (await other.get(f"/o/{owner.org_slug}/billing")).status_code == 403  # billing:read is not a viewer's
    csrf = csrf_from(await (await other.get(f"/o/{owner.org_slug}/members")).get_data(as_text=True))
    assert (await other.post(f"/o/{owner.org_slug}/billing/checkout", form={"csrf_token": csrf})).status_code == 403


async def _tiny_plan(owner_engine, org_id) -> None:
    """Put the organization on a plan of its own with one run a period and 100 bytes of storage."""
    key = f"tiny-{str(org_id)[-8:]}"
    async with owner_engine.begin() as conn:
        plan = (
            await conn.execute(
                text(
                    "INSERT INTO billing_plans (id, key, version, name, status, monthly_price_minor, "
                    "yearly_price_minor, included_seats, seat_limit, mission_limit, storage_limit_bytes, "
                    "monthly_run_limit) VALUES (gen_random_uuid(), :k, 1, 'Tiny', 'retired', 100, 1000, 1, 5, 5, "
                    "100, 1) RETURNING id"
                ),
                {"k": key},
            )
        ).scalar_one()
        await conn.execute(
            text("UPDATE billing_subscriptions SET plan_id = :p WHERE organization_id = :o"), {"p": plan, "o": org_id}
        )


async def test_runs_past_the_period_quota_and_uploads_past_storage_are_402(client, factory, owner_engine, count_rows):
    owner = await factory.org_with_owner(plan="free")
    await _tiny_plan(owner_engine, owner.org_id)
    auth = await token_headers(client, owner)
    mission = await client.post(
        f"/api/v1/organizations/{owner.org_id}/missions",
        headers=auth,
        json={"name": "Quota Base", "destination": "moon", "crew_size": 4},
    )
    mission_id = (await mission.get_json())["id"]
    runs = f"/api/v1/missions/{mission_id}/simulations"
    first = await client.post(runs, headers=auth, json={"name": "First", "run_type": "mass_balance"})
    assert first.status_code == 201, await first.get_json()
    second = await client.post(runs, headers=auth, json={"name": "Second", "run_type": "mass_balance"})
    assert second.status_code == 402
    details = (await second.get_json())["details"]
    assert details["limit"] == "simulation runs this period" and details["used"] == 1 and details["allowed"] == 1
    assert await count_rows("simulation_runs", "organization_id = :o", o=owner.org_id) == 1

    upload = {"filename": "plan.txt", "mime_type": "text/plain", "size": 101, "checksum_sha256": "ab" * 32,
              "entity_type": "missions", "entity_id": mission_id}  # fmt: skip
    refused = await client.post("/api/v1/attachments/presign", headers=auth, json=upload)
    assert refused.status_code == 402 and (await refused.get_json())["details"]["limit"] == "file storage"
    assert await count_rows("attachments", "organization_id = :o", o=owner.org_id) == 0
    fits = await client.post("/api/v1/attachments/presign", headers=auth, json=upload | {"size": 100})
    assert fits.status_code == 201, await fits.get_json()
