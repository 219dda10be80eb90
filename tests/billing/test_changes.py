"""Changing a paid subscription: the proration is shown before confirming (integer minor units, property-tested),
a change or a cancellation is asked of the provider and applied when its webhook confirms, a stale version is a 409,
and the free plan has nothing to change."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tests.billing.flow import deliver, plan_id, upgrade
from tests.helpers import token_headers
from webapp.billing import service
from webapp.billing.enums import Interval
from webapp.billing.proration import prorate
from webapp.core.errors import ValidationError
from webapp.core.tenancy import RequestContext, scope_session
from webapp.core.transaction import unit_of_work

START = datetime(2026, 1, 31, tzinfo=UTC)
prices = st.integers(min_value=0, max_value=10**9)
seconds = st.integers(min_value=1, max_value=366 * 86400)


@given(old=prices, new=prices, length=seconds, fraction=st.floats(min_value=0, max_value=1))
def test_proration_is_whole_bounded_and_points_the_right_way(old, new, length, fraction):
    end = START + timedelta(seconds=length)
    at = START + timedelta(seconds=int(length * fraction))
    p = prorate(old, new, START, end, at)
    assert all(isinstance(v, int) for v in (p.credit, p.charge, p.amount_due, p.credit_left))
    assert 0 <= p.credit <= old and 0 <= p.charge <= new
    assert p.amount_due == 0 or p.credit_left == 0  # money moves one way
    assert p.amount_due - p.credit_left == p.charge - p.credit
    if new >= old:
        assert p.credit_left == 0  # an upgrade never gives money back
    if new <= old:
        assert p.amount_due == 0  # a downgrade never charges


@given(old=prices, new=prices, length=seconds)
def test_proration_at_the_edges_of_the_period(old, new, length):
    end = START + timedelta(seconds=length)
    at_start = prorate(old, new, START, end, START)
    assert (at_start.credit, at_start.charge) == (old, new)  # the whole period is still to come
    at_end = prorate(old, new, START, end, end)
    assert (at_end.credit, at_end.charge) == (0, 0)
    late = prorate(old, new, START, end, end + timedelta(days=3))
    assert (late.credit, late.charge) == (0, 0)


@given(price=prices, length=seconds, cut=st.floats(min_value=0, max_value=1))
def test_proration_of_the_same_price_is_nothing(price, length, cut):
    end = START + timedelta(seconds=length)
    p = prorate(price, price, START, end, START + timedelta(seconds=int(length * cut)))
    assert p.amount_due == 0 and p.credit_left == 0


async def test_more_seats_are_prorated_shown_then_applied_by_the_webhook(
    client, factory, maker, owner_engine, settings
):
    owner = await factory.org_with_owner(plan="free")
    auth = await upgrade(client, maker, owner_engine, settings, owner)
    sub = await (await client.get("/api/v1/billing/subscription", headers=auth)).get_json()
    assert sub["plan"]["key"] == "crew" and sub["seats"] == 5

    preview = await client.get("/api/v1/billing/subscription/preview?seats=8", headers=auth)
    shown = await preview.get_json()
    assert preview.status_code == 200, shown
    # 3 seats beyond the 5 included at $12.00 a month, almost a whole month left
    assert shown["old_price_minor"] == 4900 and shown["new_price_minor"] == 4900 + 3 * 1200
    assert 0 < shown["amount_due_minor"] <= 3 * 1200 and shown["credit_left_minor"] == 0
    assert shown["charge_minor"] - shown["credit_minor"] == shown["amount_due_minor"]

    stale = await client.patch("/api/v1/billing/subscription", headers=auth, json={"seats": 8, "version": 999})
    assert stale.status_code == 409 and (await stale.get_json())["details"]["current"]["version"] == sub["version"]
    asked = await client.patch(
        "/api/v1/billing/subscription", headers=auth, json={"seats": 8, "version": sub["version"]}
    )
    assert asked.status_code == 202 and (await asked.get_json())["preview"]["seats"] == 8
    still = await (await client.get("/api/v1/billing/subscription", headers=auth)).get_json()
    assert still["seats"] == 5  # until the provider confirms

    try:
        async with unit_of_work(maker) as session:  # what the provider reports (the request queued the same)
            await scope_session(session, org_id=owner.org_id, user_id=owner.id)
            ctx = RequestContext(user_id=owner.id, org_id=owner.org_id)
            change, events = await service.change_subscription(
                session, ctx, plan_id=None, seats=8, interval=None, version=sub["version"]
            )
            _, again = await service.change_subscription(  # a retried request: the provider bills the change once
                session, ctx, plan_id=None, seats=8, interval=None, version=sub["version"]
            )
        expected, slack = change.proration, 0
    except ValidationError:  # a live worker of this test session carried out the queued change first
        now = await (await client.get("/api/v1/billing/subscription", headers=auth)).get_json()
        assert now["seats"] == 8
        events = again = []
        expected, slack = None, 5  # billed seconds after the preview: within a few cents of it
    await deliver(client, maker, owner_engine, settings, events + again)
    after = await (await client.get("/api/v1/billing/subscription", headers=auth)).get_json()
    assert after["seats"] == 8 and after["plan"]["key"] == "crew"
    invoices = (await (await client.get("/api/v1/billing/invoices", headers=auth)).get_json())["items"]
    assert [i["number"] for i in invoices] == [2, 1]  # billed once, whoever carried it out
    charge, credit, due = (
        (expected.charge, expected.credit, expected.amount_due)
        if expected
        else (shown["charge_minor"], shown["credit_minor"], shown["amount_due_minor"])
    )
    assert abs(invoices[0]["proration_amount"] - charge) <= slack
    assert abs(invoices[0]["refund_amount"] - credit) <= slack
    assert abs(invoices[0]["total_amount"] - due) <= slack


async def test_cancel_at_period_end_then_resume(client, factory, maker, owner_engine, settings):
    owner = await factory.org_with_owner(plan="free")
    auth = await upgrade(client, maker, owner_engine, settings, owner)
    sub = await (await client.get("/api/v1/billing/subscription", headers=auth)).get_json()
    asked = await client.delete(f"/api/v1/billing/subscription?version={sub['version']}", headers=auth)
    assert asked.status_code == 202
    ctx = RequestContext(user_id=owner.id, org_id=owner.org_id)
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        events = await service.set_cancel_at_period_end(session, ctx, cancel=True, version=sub["version"])
    await deliver(client, maker, owner_engine, settings, events)
    ending = await (await client.get("/api/v1/billing/subscription", headers=auth)).get_json()
    assert ending["cancel_at_period_end"] and ending["plan"]["key"] == "crew" and ending["status"] == "active"
    again = await client.delete(f"/api/v1/billing/subscription?version={ending['version']}", headers=auth)
    assert again.status_code == 409
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        events = await service.set_cancel_at_period_end(session, ctx, cancel=False, version=ending["version"])
    await deliver(client, maker, owner_engine, settings, events)
    resumed = await (await client.get("/api/v1/billing/subscription", headers=auth)).get_json()
    assert not resumed["cancel_at_period_end"]


async def test_the_free_plan_has_nothing_to_change_and_bad_changes_are_refused(
    client, factory, maker, owner_engine, settings
):
    owner = await factory.org_with_owner(plan="free")
    auth = await token_headers(client, owner)
    free = await (await client.get("/api/v1/billing/subscription", headers=auth)).get_json()
    refused = await client.patch(
        "/api/v1/billing/subscription", headers=auth, json={"seats": 4, "version": free["version"]}
    )
    assert refused.status_code == 409
    assert (await client.get("/api/v1/billing/subscription/preview?seats=4", headers=auth)).status_code == 409

    auth = await upgrade(client, maker, owner_engine, settings, owner)
    sub = await (await client.get("/api/v1/billing/subscription", headers=auth)).get_json()
    free_plan = await plan_id(owner_engine, "free")
    for body, field in (
        ({"seats": 2, "version": sub["version"]}, "seats"),  # fewer than the plan includes
        ({"seats": 26, "version": sub["version"]}, "seats"),  # more than the plan allows
        ({"plan_id": str(free_plan), "version": sub["version"]}, "plan_id"),  # free is reached by cancelling
        ({"seats": 6, "cancel_at_period_end": True, "version": sub["version"]}, "cancel_at_period_end"),
    ):
        answer = await client.patch("/api/v1/billing/subscription", headers=auth, json=body)
        assert answer.status_code == 422 and field in (await answer.get_json())["details"]["fields"], body
    yearly = await client.get("/api/v1/billing/subscription/preview?interval=year", headers=auth)
    shown = await yearly.get_json()
    assert shown["new_price_minor"] == 49000 and shown["charge_minor"] == 49000  # a new yearly period starts now
    assert Interval(shown["interval"]) == Interval.YEAR


async def test_the_billing_page_reviews_a_change_before_confirming(client, factory, maker, owner_engine, settings):
    from tests.conftest import csrf_from
    from tests.helpers import login

    owner = await factory.org_with_owner(plan="free")
    await upgrade(client, maker, owner_engine, settings, owner)
    await login(client, owner.email, owner.password)
    page = await (await client.get(f"/o/{owner.org_slug}/billing")).get_data(as_text=True)
    assert "Review the change" in page and "Cancel at period end" in page and "Switch to Mission Control" in page
    assert re.search(r'id="next-invoice">Next invoice: <strong>\$49\.00</strong>', page)
    review = await client.get(f"/o/{owner.org_slug}/billing/change?seats=7")
    html = await review.get_data(as_text=True)
    assert review.status_code == 200 and "Due now" in html and "Confirm the change" in html
    bad = await client.get(f"/o/{owner.org_slug}/billing/change?seats=1")
    assert bad.status_code == 422
    form = {"csrf_token": csrf_from(html)} | dict(
        re.findall(r'name="(version|plan_id|seats|interval)" value="([^"]*)"', html)
    )
    confirmed = await client.post(f"/o/{owner.org_slug}/billing/change", form=form)
    assert confirmed.status_code == 303 and "asked=" in confirmed.headers["Location"]
    waiting = await (await client.get(confirmed.headers["Location"])).get_data(as_text=True)
    assert "Waiting for the payment provider" in waiting  # until the webhook confirms


async def test_buy_simulation_credits_once(client, factory, maker, owner_engine, settings):
    from webapp.billing import payments
    from webapp.billing.models import Payment

    owner = await factory.org_with_owner(plan="free")
    auth = await token_headers(client, owner)
    bought = await client.post(
        "/api/v1/billing/payments/one-time", headers=auth, json={"product": "simulation_credits", "quantity": 3}
    )
    payment = await bought.get_json()
    assert bought.status_code == 201, payment
    assert payment["amount_minor"] == 3000 and payment["unit_price_minor"] == 1000 and payment["status"] == "pending"
    assert payment["checkout_url"].endswith(f"/o/{owner.org_slug}/billing/sandbox/payments/{payment['id']}")
    bad = await client.post("/api/v1/billing/payments/one-time", headers=auth, json={"product": "gold", "quantity": 1})
    assert bad.status_code == 422
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        events = payments.sandbox_events(await session.get(Payment, payment["id"]))
    assert [str(o) for o in await deliver(client, maker, owner_engine, settings, events)] == ["processed"]
    listed = (await (await client.get("/api/v1/billing/payments", headers=auth)).get_json())["items"]
    assert [(p["id"], p["status"], p["checkout_url"]) for p in listed] == [(payment["id"], "succeeded", None)]
    assert listed[0]["paid_at"]
    # a late "failed" for a payment that succeeded changes nothing
    failed = dict(events[0], id=events[0]["id"] + "_late", type="payment_intent.payment_failed")
    assert [str(o) for o in await deliver(client, maker, owner_engine, settings, [failed])] == ["ignored"]
    again = (await (await client.get("/api/v1/billing/payments", headers=auth)).get_json())["items"]
    assert again[0]["status"] == "succeeded"


async def test_the_sandbox_renews_a_period_and_ends_a_cancelled_subscription(
    client, factory, maker, owner_engine, settings
):
    from sqlalchemy import text

    from webapp.billing import sandbox

    owner = await factory.org_with_owner(plan="free")
    auth = await upgrade(client, maker, owner_engine, settings, owner)
    shift = "UPDATE billing_subscriptions SET current_period_start = current_period_start - interval '1 month', "
    shift += "current_period_end = now() - interval '1 minute' WHERE organization_id = :o"
    async with owner_engine.begin() as conn:  # the period is over
        await conn.execute(text(shift), {"o": owner.org_id})
    mine = [e for e in await sandbox.cycle(maker) if e["data"]["object"].get("metadata", {}).get("organization_id")
            == str(owner.org_id)]  # fmt: skip
    assert [e["type"] for e in mine] == ["customer.subscription.updated", "invoice.paid"]
    await deliver(client, maker, owner_engine, settings, mine)
    renewed = await (await client.get("/api/v1/billing/subscription", headers=auth)).get_json()
    assert renewed["plan"]["key"] == "crew" and renewed["current_period_end"] > renewed["current_period_start"]
    invoices = (await (await client.get("/api/v1/billing/invoices", headers=auth)).get_json())["items"]
    assert [i["number"] for i in invoices] == [2, 1] and invoices[0]["total_amount"] == 4900

    async with owner_engine.begin() as conn:  # set to end with the period, and the period is over
        await conn.execute(
            text("UPDATE billing_subscriptions SET cancel_at_period_end = true WHERE organization_id = :o"),
            {"o": owner.org_id},
        )
        await conn.execute(text(shift), {"o": owner.org_id})
    mine = [e for e in await sandbox.cycle(maker) if e["data"]["object"].get("metadata", {}).get("organization_id")
            == str(owner.org_id)]  # fmt: skip
    assert [e["type"] for e in mine] == ["customer.subscription.deleted"]
    await deliver(client, maker, owner_engine, settings, mine)
    ended = await (await client.get("/api/v1/billing/subscription", headers=auth)).get_json()
    assert ended["plan"]["key"] == "free" and ended["provider"] is None and ended["status"] == "active"


async def test_staff_correct_an_invoice_with_a_credit_note(client, factory, maker, owner_engine, settings, count_rows):
    from tests.conftest import csrf_from
    from tests.helpers import login

    owner = await factory.org_with_owner(plan="free")
    auth = await upgrade(client, maker, owner_engine, settings, owner)
    [invoice] = (await (await client.get("/api/v1/billing/invoices", headers=auth)).get_json())["items"]
    staff = await factory.platform_admin()
    desk = client.app.test_client()
    await login(desk, staff.email, staff.password)
    page = await desk.get(f"/admin/billing/organizations/{owner.org_id}/invoices")
    html = await page.get_data(as_text=True)
    assert page.status_code == 200 and "Issue credit note" in html
    url = f"/admin/billing/invoices/{invoice['id']}/credit-note"
    token = csrf_from(html)
    too_much = await desk.post(url, form={"csrf_token": token, "amount": "49.01", "reason": "Outage"})
    assert too_much.status_code == 422
    no_reason = await desk.post(url, form={"csrf_token": token, "amount": "10", "reason": " "})
    assert no_reason.status_code == 422
    issued = await desk.post(url, form={"csrf_token": token, "amount": "12.50", "reason": "Two days of outage"})
    assert issued.status_code == 303
    items = (await (await client.get("/api/v1/billing/invoices", headers=auth)).get_json())["items"]
    note = items[0]
    assert note["kind"] == "credit_note" and note["corrects_id"] == invoice["id"] and note["number"] == 2
    assert note["total_amount"] == 1250 and note["display_number"].startswith("CN-")
    assert items[1] == invoice  # the invoice itself is unchanged
    rest = await desk.post(url, form={"csrf_token": token, "amount": "36.51", "reason": "More"})
    assert rest.status_code == 422  # 49.00 - 12.50 = 36.50 is all that is left
    assert await count_rows("audit_logs", "action = 'billing.credit_note' AND actor_user_id = :u", u=staff.id) == 1
