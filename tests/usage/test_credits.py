"""The credit ledger: purchases credited once when paid and taken back when refunded; corrections (only staff add);
the ledger append-only at the database; the balance never negative under 50 concurrent consumers; holds resolved
exactly once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.billing.flow import deliver
from tests.helpers import token_headers
from webapp.billing import payments
from webapp.billing.models import Payment
from webapp.core.errors import PaymentRequired
from webapp.core.tenancy import scope_session
from webapp.core.transaction import unit_of_work
from webapp.usage import credits
from webapp.usage.enums import EntryKind

PLAN_GRANT = 1000  # the free plan's credits of the month, granted when the organization starts


async def _grant(maker, owner, amount: int, key: str = "test-grant") -> None:
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        await credits.record(session, owner.org_id, EntryKind.GRANT, amount=amount, key=key, reason="test grant")


async def test_a_purchase_is_credited_once_when_paid_and_taken_back_when_refunded(
    client, factory, maker, owner_engine, settings
):
    owner = await factory.org_with_owner(plan="free")
    auth = await token_headers(client, owner)
    assert (await (await client.get("/api/v1/credits", headers=auth)).get_json())["balance"] == PLAN_GRANT
    bought = await client.post(
        "/api/v1/billing/payments/one-time", headers=auth, json={"product": "simulation_credits", "quantity": 2}
    )
    payment = await bought.get_json()
    pending = await (await client.get("/api/v1/credits", headers=auth)).get_json()
    assert pending["balance"] == PLAN_GRANT  # nothing until the provider says it is paid
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        [paid] = payments.sandbox_events(await session.get(Payment, payment["id"]))
    assert await deliver(client, maker, owner_engine, settings, [paid]) == ["processed"]
    again = dict(paid, id=paid["id"] + "_again")  # the provider says it once more, as a new event
    assert await deliver(client, maker, owner_engine, settings, [again]) == ["ignored"]
    now = await (await client.get("/api/v1/credits", headers=auth)).get_json()
    assert (now["balance"], now["held"], now["available"]) == (3000, 0, 3000)

    refund_obj = dict(paid["data"]["object"], id="ch_refund", payment_intent=paid["data"]["object"]["id"])
    refund = dict(paid, id=paid["id"] + "_refund", type="charge.refunded", data={"object": refund_obj})
    assert await deliver(client, maker, owner_engine, settings, [refund]) == ["processed"]
    ledger = await (await client.get("/api/v1/credits/ledger", headers=auth)).get_json()
    kinds = [(e["kind"], e["amount"], e["balance_after"]) for e in ledger["items"]]
    assert kinds == [("adjust", -2000, 1000), ("purchase", 2000, 3000), ("grant", 1000, 1000)]


async def test_corrections_take_away_only_staff_add_and_each_key_counts_once(client, factory, maker, count_rows):
    owner = await factory.org_with_owner(plan="free")
    await _grant(maker, owner, 500)
    auth = await token_headers(client, owner)
    body = {"amount": -120, "reason": "double-counted run", "idempotency_key": "fix-1"}
    taken = await client.post("/api/v1/credits/adjust", headers=auth, json=body)
    entry = await taken.get_json()
    assert taken.status_code == 201, entry
    assert (entry["kind"], entry["amount"], entry["balance_after"], entry["actor_id"]) == (
        "adjust", -120, 1380, str(owner.id)
    )  # fmt: skip
    repeat = await client.post("/api/v1/credits/adjust", headers=auth, json=body)
    assert repeat.status_code == 201 and (await repeat.get_json())["id"] == entry["id"]
    assert (await (await client.get("/api/v1/credits", headers=auth)).get_json())["balance"] == 1380
    assert await count_rows("audit_logs", "action = 'credits.adjust' AND organization_id = :o", o=owner.org_id) == 1

    too_much = await client.post("/api/v1/credits/adjust", headers=auth, json={"amount": -2000, "reason": "oops"})
    refusal = await too_much.get_json()
    assert too_much.status_code == 402 and refusal["details"]["shortfall"] == 620
    given = await client.post("/api/v1/credits/adjust", headers=auth, json={"amount": 1000, "reason": "free money"})
    assert given.status_code == 403
    no_reason = await client.post("/api/v1/credits/adjust", headers=auth, json={"amount": -1})
    assert no_reason.status_code == 422
    assert (await (await client.get("/api/v1/credits", headers=auth)).get_json())["balance"] == 1380

    # the ledger pages by cursor; a cursor of another list (or of nothing) is a 400
    first = await (await client.get("/api/v1/credits/ledger?limit=1", headers=auth)).get_json()
    rest = await (await client.get(f"/api/v1/credits/ledger?cursor={first['next_cursor']}", headers=auth)).get_json()
    kinds = [e["kind"] for e in first["items"] + rest["items"]]
    assert kinds == ["adjust", "grant", "grant"] and rest["next_cursor"] is None  # the last: the plan's credits
    from webapp.core.pagination import encode_cursor

    foreign = encode_cursor(("produced_at:desc", "W3sidCI6IjIwMjYifV0"))
    assert (await client.get(f"/api/v1/credits/ledger?cursor={foreign}", headers=auth)).status_code == 400
    whole = await client.post(
        "/api/v1/credits/adjust", headers=auth, json={"amount": -20.0, "reason": "as JSON allows"}
    )
    assert whole.status_code == 201 and (await whole.get_json())["amount"] == -20  # 20.0 is a whole number in JSON

    crew = await factory.member(owner)
    crew_auth = await token_headers(client, crew)
    assert (await client.get("/api/v1/credits", headers=crew_auth)).status_code == 403  # billing:read


async def test_the_ledger_is_append_only_for_everyone(factory, maker, owner_engine, settings):
    owner = await factory.org_with_owner(plan="free")
    await _grant(maker, owner, 10)
    async with unit_of_work(maker) as session:  # the app role: no UPDATE or DELETE privilege at all
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        with pytest.raises(DBAPIError, match="permission denied"):
            async with session.begin_nested():
                await session.execute(text("UPDATE tenant_credit_ledger SET amount = 1000000"))
    async with owner_engine.connect() as conn:  # the schema owner: the trigger refuses
        for statement in ("UPDATE tenant_credit_ledger SET reason = 'x'", "DELETE FROM tenant_credit_ledger"):
            with pytest.raises(DBAPIError, match="cannot be changed or deleted"):
                async with conn.begin():
                    await conn.execute(text(statement + " WHERE organization_id = :o"), {"o": owner.org_id})


async def test_fifty_concurrent_consumers_never_overdraw(factory, maker, owner_engine):
    owner = await factory.org_with_owner(plan="free")
    await _grant(maker, owner, 1000)

    async def consume(n: int) -> bool:
        try:
            async with unit_of_work(maker) as session:
                await scope_session(session, org_id=owner.org_id, user_id=owner.id)
                await credits.record(session, owner.org_id, EntryKind.CONSUME, amount=-60, key=f"consume-{n}",
                                     reason="a run")  # fmt: skip
            return True
        except PaymentRequired:
            return False

    outcomes = await asyncio.gather(*(consume(n) for n in range(50)))
    assert sum(outcomes) == 33  # 33 × 60 = 1,980 of 2,000 (the plan's 1,000 and 1,000 more); the 34th would overdraw
    async with owner_engine.connect() as conn:
        balance = (await conn.execute(
            text("SELECT balance FROM credit_accounts WHERE organization_id = :o"), {"o": owner.org_id}
        )).scalar_one()  # fmt: skip
        entries = (await conn.execute(
            text("SELECT count(*), sum(amount), min(balance_after) FROM tenant_credit_ledger "
                 "WHERE organization_id = :o AND kind = 'consume'"), {"o": owner.org_id},
        )).one()  # fmt: skip
    assert balance == 20 and entries[0] == 33 and entries[1] == -1980 and entries[2] == 20


async def test_a_hold_is_settled_or_released_exactly_once(factory, maker, owner_engine):
    owner = await factory.org_with_owner(plan="free")
    await _grant(maker, owner, 300)

    async def step(action):
        async with unit_of_work(maker) as session:
            await scope_session(session, org_id=owner.org_id, user_id=owner.id)
            return await action(session)

    first = await step(lambda s: credits.hold(s, owner.org_id, 200, subject="simulation_run:a", description="run a"))
    again = await step(lambda s: credits.hold(s, owner.org_id, 200, subject="simulation_run:a", description="run a"))
    assert again.id == first.id  # a second hold for the same work is the first
    assert await step(lambda s: credits.balance_of(s, owner.org_id)) == credits.Balance(1300, 200)
    with pytest.raises(PaymentRequired) as refused:  # 1,100 available: a second run's 1,150 does not fit
        await step(lambda s: credits.hold(s, owner.org_id, 1150, subject="simulation_run:b", description="run b"))
    assert refused.value.details["shortfall"] == 50

    settled = await step(lambda s: credits.settle(s, owner.org_id, "simulation_run:a", 120))
    assert (settled.kind, settled.amount, settled.held_change, settled.balance_after) == ("settle", -120, -200, 1180)
    assert await step(lambda s: credits.settle(s, owner.org_id, "simulation_run:a", 120)) is None  # once
    assert await step(lambda s: credits.release(s, owner.org_id, "simulation_run:a")) is None
    assert await step(lambda s: credits.balance_of(s, owner.org_id)) == credits.Balance(1180, 0)

    await step(lambda s: credits.hold(s, owner.org_id, 150, subject="simulation_run:b", description="run b"))
    released = await step(lambda s: credits.release(s, owner.org_id, "simulation_run:b"))
    assert (released.kind, released.amount, released.held_change) == ("release", 0, -150)
    assert await step(lambda s: credits.balance_of(s, owner.org_id)) == credits.Balance(1180, 0)
    async with owner_engine.connect() as conn:
        holds = (await conn.execute(
            text("SELECT subject, status, settled_amount FROM credit_holds WHERE organization_id = :o "
                 "ORDER BY subject"), {"o": owner.org_id},
        )).all()  # fmt: skip
    assert [tuple(h) for h in holds] == [("simulation_run:a", "settled", 120), ("simulation_run:b", "released", None)]


async def test_staff_give_and_take_credits_from_the_organizations_billing_page(app, client, factory, count_rows):
    from tests.helpers import login

    owner = await factory.org_with_owner(plan="free")
    staff = await factory.platform_admin()
    token = await login(client, staff.email, staff.password)
    page = await client.get(f"/admin/billing/organizations/{owner.org_id}/invoices")
    assert page.status_code == 200 and 'id="credit-account"' in await page.get_data(as_text=True)
    form = {"csrf_token": token, "amount": "5000", "reason": "pilot programme", "key": "grant-once"}
    address = f"/admin/billing/organizations/{owner.org_id}/credits"
    assert (await client.post(address, form=form)).status_code == 303
    assert (await client.post(address, form=form)).status_code == 303  # a resent form changes nothing more
    taken = await client.post(address, form={**form, "amount": "-200", "key": "take-1", "reason": "mistake"})
    assert taken.status_code == 303
    bad = await client.post(address, form={**form, "amount": "lots", "key": "k2"})
    assert bad.status_code == 422
    auth = await token_headers(client, owner)
    ledger = await (await client.get("/api/v1/credits/ledger", headers=auth)).get_json()
    assert [(e["kind"], e["amount"], e["actor_id"]) for e in ledger["items"]] == [
        ("adjust", -200, str(staff.id)), ("grant", 5000, str(staff.id)), ("grant", PLAN_GRANT, None)
    ]  # fmt: skip
    assert (
        await count_rows("audit_logs", "action = 'credits.staff_change' AND organization_id = :o", o=owner.org_id) == 2
    )
    # anyone else: there is no such page
    other = app.test_client()
    owner_token = await login(other, owner.email, owner.password)
    assert (await other.post(address, form={**form, "csrf_token": owner_token, "key": "k3"})).status_code == 404


async def test_the_credits_page_shows_the_account_the_holds_and_the_ledger_page_by_page(client, factory, maker):
    from tests.helpers import login

    owner = await factory.org_with_owner(plan="free")
    for n in range(3):
        await _grant(maker, owner, 100, key=f"grant-{n}")
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        await credits.hold(session, owner.org_id, 50, subject="simulation_run:x", description="Run “Long haul”")
    await login(client, owner.email, owner.password)
    billing = await (await client.get(f"/o/{owner.org_slug}/billing")).get_data(as_text=True)
    assert 'id="credit-account"' in billing and "<strong>1,250</strong>" in billing  # 1,000 + 300 − 50 held
    page = await client.get(f"/o/{owner.org_slug}/billing/credits?limit=2")
    html = await page.get_data(as_text=True)
    assert page.status_code == 200 and "Run “Long haul”" in html and 'id="load-more"' in html
    assert html.count("<tr>") == 2 + 1  # two entries and the header row
    cursor = html.split("cursor=", 1)[1].split('"', 1)[0].replace("&amp;", "&")
    more = await client.get(
        f"/o/{owner.org_slug}/billing/credits?{('cursor=' + cursor)}", headers={"HX-Request": "true"}
    )
    rows = await more.get_data(as_text=True)
    assert more.status_code == 200 and "<html" not in rows and rows.count("<tr>") == 3  # the rest: 5 entries in all
