"""Runs spend credits: starting one holds its estimate (402 with the shortfall when too few are available, and
nothing is queued); a run that succeeds is charged the engine time it took — never more than the hold — and the
rest is released; a cancelled run gets the hold back. Plan credits are granted once a month and what is left
expires when the next month's come (the worker kill test in tests/simulations proves "once" under crashes)."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from tests.helpers import token_headers
from tests.simulations.test_run_pages import _work
from tests.simulations.test_runs_live import MISSION
from webapp.core.tenancy import scope_session
from webapp.core.transaction import unit_of_work
from webapp.usage import credits, grants, pricing


async def _account(client, auth) -> tuple[int, int, int]:
    body = await (await client.get("/api/v1/credits", headers=auth)).get_json()
    return body["balance"], body["held"], body["available"]


async def _mission(client, owner, auth) -> str:
    created = await client.post(f"/api/v1/organizations/{owner.org_id}/missions", headers=auth, json=MISSION)
    assert created.status_code == 201, await created.get_json()
    return (await created.get_json())["id"]


async def _hold_of(owner_engine, run_id) -> tuple:
    async with owner_engine.connect() as conn:
        return tuple(
            (
                await conn.execute(
                    text("SELECT amount, status, settled_amount FROM credit_holds WHERE subject = :s"),
                    {"s": f"simulation_run:{run_id}"},
                )
            ).one()
        )


async def test_a_run_holds_its_estimate_and_is_charged_what_it_took(app, client, factory, maker, owner_engine):
    owner = await factory.org_with_owner(plan="free")  # 1,000 plan credits this month
    auth = await token_headers(client, owner)
    assert await _account(client, auth) == (1000, 0, 1000)
    mission = await _mission(client, owner, auth)
    config = {"time_horizon_days": 30, "scenarios": 5, "seed": 3}
    started = await client.post(
        f"/api/v1/missions/{mission}/simulations", headers=auth, json={"run_type": "monte_carlo", "config": config}
    )
    assert started.status_code == 201, await started.get_json()
    run_id = (await started.get_json())["id"]
    estimate = pricing.estimate(config)
    assert estimate == 1 + 3  # 150 scenario-days at the ceiling of 0.02 CPU-seconds each
    balance, held, _ = await _account(client, auth)
    assert held in (estimate, 0) and balance <= 1000  # held, unless a live worker already finished it

    assert await _work(app, maker, owner.org_id, run_id) == "succeeded"
    amount, status, charged = await _hold_of(owner_engine, run_id)
    assert (amount, status) == (estimate, "settled") and 1 <= charged <= estimate
    assert await _account(client, auth) == (1000 - charged, 0, 1000 - charged)
    ledger = await (await client.get("/api/v1/credits/ledger", headers=auth)).get_json()
    kinds = [(e["kind"], e["amount"], e["held_change"]) for e in ledger["items"]]
    assert kinds[:2] == [("settle", -charged, -estimate), ("hold", 0, estimate)]
    async with owner_engine.connect() as conn:  # the same engine time was metered
        cpu = (
            await conn.execute(
                text("SELECT quantity FROM usage_metered_usage WHERE transaction_id = :t"),
                {"t": f"simulation_run:{run_id}:cpu"},
            )
        ).scalar_one()
    assert charged == min(estimate, pricing.actual(float(cpu)))


async def test_too_few_credits_is_a_402_with_the_shortfall_and_nothing_queued(client, factory, count_rows):
    owner = await factory.org_with_owner(plan="free")
    auth = await token_headers(client, owner)
    mission = await _mission(client, owner, auth)
    big = {"run_type": "monte_carlo", "config": {"time_horizon_days": 200, "scenarios": 1000, "seed": 1}}
    refused = await client.post(f"/api/v1/missions/{mission}/simulations", headers=auth, json=big)
    body = await refused.get_json()
    assert refused.status_code == 402, body
    assert body["details"]["needed"] == 4001 and body["details"]["shortfall"] == 3001
    assert await count_rows("simulation_runs", "organization_id = :o", o=owner.org_id) == 0
    assert await count_rows("credit_holds", "organization_id = :o", o=owner.org_id) == 0
    assert await _account(client, auth) == (1000, 0, 1000)


async def test_a_cancelled_run_gets_its_hold_back(app, client, factory, maker, owner_engine):
    owner = await factory.org_with_owner(plan="free")
    auth = await token_headers(client, owner)
    mission = await _mission(client, owner, auth)
    started = await client.post(
        f"/api/v1/missions/{mission}/simulations", headers=auth,
        json={"run_type": "monte_carlo", "config": {"time_horizon_days": 60, "scenarios": 600, "seed": 2}},
    )  # fmt: skip
    run_id = (await started.get_json())["id"]
    cancelled = await client.patch(f"/api/v1/simulation-runs/{run_id}/cancel", headers=auth)
    assert cancelled.status_code == 200, await cancelled.get_json()
    assert await _work(app, maker, owner.org_id, run_id) == "cancelled"  # queued: at once; running: by its worker
    assert (await _hold_of(owner_engine, run_id))[1:] == ("released", None)
    assert await _account(client, auth) == (1000, 0, 1000)


async def test_plan_credits_come_monthly_and_last_months_leftovers_expire(factory, maker, owner_engine):
    owner = await factory.org_with_owner(plan="free")
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        assert await grants.top_up(session, owner.org_id) is None  # this month's were granted when it started
        await credits.hold(session, owner.org_id, 300, subject="simulation_run:long", description="a long run")
    async with owner_engine.begin() as conn:  # a month later: the period began a month earlier, its month has ended
        await conn.execute(
            text(
                "UPDATE billing_subscriptions SET current_period_start = current_period_start - interval '31 days', "
                "current_period_end = current_period_end - interval '31 days' WHERE organization_id = :o"
            ),
            {"o": owner.org_id},
        )
        await conn.execute(
            text(
                "UPDATE credit_accounts SET expiring_until = (SELECT current_period_start + interval '1 month' "
                "FROM billing_subscriptions WHERE organization_id = :o) WHERE organization_id = :o"
            ),
            {"o": owner.org_id},
        )
    await grants.renew_due(maker)  # the scheduler's hourly pass finds the month that turned (proved just below)
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        assert await grants.top_up(session, owner.org_id) is None  # once a month
        account = await credits.balance_of(session, owner.org_id)
    # 700 of last month's expired; the 300 a run holds stay until it is resolved
    assert (account.balance, account.held) == (1300, 300)
    async with owner_engine.connect() as conn:
        kinds = [
            tuple(r)
            for r in await conn.execute(
                text(
                    "SELECT kind, amount FROM tenant_credit_ledger WHERE organization_id = :o "
                    "ORDER BY created_at, amount"  # one transaction: the expiry, then the grant
                ),
                {"o": owner.org_id},
            )
        ]
    assert kinds == [("grant", 1000), ("hold", 0), ("expire", -700), ("grant", 1000)]


async def test_a_run_the_reaper_gives_up_on_releases_its_hold(app, client, factory, maker, owner_engine):
    from webapp.core.tenancy import RequestContext
    from webapp.simulations.service import runs
    from webapp.simulations.service.execution import reap_stale_runs

    owner = await factory.org_with_owner(plan="free")
    auth = await token_headers(client, owner)
    mission = await _mission(client, owner, auth)
    ctx = RequestContext(user_id=owner.id, org_id=owner.org_id, org_slug=owner.org_slug)
    async with unit_of_work(maker) as session:  # started, but never handed to a worker
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        name, run_type, config = runs.parse_run_request({"name": "Lost run", "run_type": "waste_minimization"})
        run = await runs.start_run(session, ctx, uuid.UUID(mission), name, run_type, config, lambda *_: None)
    async with owner_engine.begin() as conn:  # its worker died on the last attempt allowed
        await conn.execute(
            text(
                "UPDATE simulation_runs SET status = 'running', attempt = 3, heartbeat_at = now() - interval '1 hour' "
                "WHERE id = :i"
            ),
            {"i": run.id},
        )
    state = app.extensions["closedloop"]
    await reap_stale_runs(
        maker, state["redis"], state["settings"].redis_namespace, lambda *_: None, stale_seconds=60, max_attempts=3
    )
    assert (await _hold_of(owner_engine, run.id))[1:] == ("released", None)
    assert await _account(client, auth) == (1000, 0, 1000)


async def test_a_plan_change_tops_the_month_up_to_the_new_plans_credits(client, factory):
    owner = await factory.org_with_owner()  # started on Free (1,000), then put on Mission Control (1,000,000)
    auth = await token_headers(client, owner)
    assert await _account(client, auth) == (1_000_000, 0, 1_000_000)
    ledger = await (await client.get("/api/v1/credits/ledger", headers=auth)).get_json()
    assert [(e["kind"], e["amount"]) for e in ledger["items"]] == [("grant", 999_000), ("grant", 1000)]
