"""The Stripe adapter through the official SDK against a local server that records Stripe API calls: a checkout
session with the plan's prices inline and our ids as metadata (idempotent), a seat change that replaces the items
with Stripe prorating it, cancel at period end; and Stripe's own webhook then sets the subscription."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import stripe

from tests.billing.flow import plan_id
from tests.billing.stripe_server import StripeServer
from tests.helpers import token_headers
from webapp.billing import processing

SECRET = "whsec_stripe_adapter_" + "e" * 24


@pytest.fixture
def stripe_api(app):
    extension = app.extensions["closedloop"]
    before = extension["settings"]
    with StripeServer() as server:
        extension["settings"] = before.with_overrides(
            billing_provider="stripe", stripe_api_key="sk_test_local", stripe_api_base=server.url,
            stripe_webhook_secret=SECRET,
        )  # fmt: skip
        yield server
    extension["settings"] = before


async def test_checkout_change_and_cancel_through_stripe(client, factory, maker, owner_engine, stripe_api):
    owner = await factory.org_with_owner(plan="free")
    auth = await token_headers(client, owner)
    crew = await plan_id(owner_engine, "crew")
    started = await client.post("/api/v1/billing/subscription", headers=auth, json={"plan_id": str(crew), "seats": 7})
    checkout = await started.get_json()
    assert started.status_code == 201, checkout
    assert (
        checkout["provider"] == "stripe" and checkout["checkout_url"] == "https://checkout.stripe.test/c/pay/cs_test_1"
    )
    [call] = stripe_api.requests
    assert (call["method"], call["path"]) == ("POST", "/v1/checkout/sessions")
    assert call["headers"]["Authorization"] == "Bearer sk_test_local"
    assert call["headers"]["Idempotency-Key"] == f"checkout-{checkout['id']}"
    form = call["form"]
    assert form["mode"] == "subscription" and form["client_reference_id"] == str(owner.org_id)
    assert form["line_items[0][price_data][unit_amount]"] == "4900" and form["line_items[0][quantity]"] == "1"
    assert form["line_items[1][price_data][unit_amount]"] == "1200" and form["line_items[1][quantity]"] == "2"
    assert form["subscription_data[metadata][organization_id]"] == str(owner.org_id)
    assert form["subscription_data[metadata][seats]"] == "7"

    # Stripe's webhook (signed by stripe's own signer) sets the subscription
    items = {"data": [{"id": "si_base", "quantity": 1}, {"id": "si_seats", "quantity": 2}]}
    obj = {"id": "sub_stripe_1", "object": "subscription", "customer": "cus_1", "status": "active",
           "cancel_at_period_end": False, "items": items,
           "current_period_start": int(time.time()), "current_period_end": int(time.time()) + 2592000,
           "metadata": {"organization_id": str(owner.org_id), "plan_id": str(crew), "seats": "7"}}  # fmt: skip
    body = json.dumps({"id": "evt_stripe_created", "object": "event", "type": "customer.subscription.created",
                       "created": int(time.time()), "data": {"object": obj}})  # fmt: skip
    header = stripe.WebhookSignature.generate_signature_header(body, SECRET)
    taken = await client.post(
        "/api/v1/webhooks/stripe", data=body.encode(),
        headers={"Content-Type": "application/json", "Stripe-Signature": header},
    )  # fmt: skip
    assert taken.status_code == 200
    async with owner_engine.connect() as conn:
        from sqlalchemy import text

        row = await conn.execute(text("SELECT id FROM billing_payment_events WHERE event_id = 'evt_stripe_created'"))
        await processing.process_event(maker, row.scalar_one())
    sub = await (await client.get("/api/v1/billing/subscription", headers=auth)).get_json()
    assert sub["provider"] == "stripe" and sub["seats"] == 7 and sub["plan"]["key"] == "crew"

    changed = await client.patch(
        "/api/v1/billing/subscription", headers=auth, json={"seats": 9, "version": sub["version"]}
    )
    assert changed.status_code == 202, await changed.get_json()
    retrieve, update = stripe_api.requests[1:3]
    assert (retrieve["method"], retrieve["path"]) == ("GET", "/v1/subscriptions/sub_stripe_1")
    assert (update["method"], update["path"]) == ("POST", "/v1/subscriptions/sub_stripe_1")
    u = update["form"]
    assert u["items[0][id]"] == "si_base" and u["items[0][deleted]"] == "true" and u["items[1][deleted]"] == "true"
    assert u["items[3][quantity]"] == "4" and u["proration_behavior"] == "always_invoice"
    assert u["metadata[seats]"] == "9"

    cancelled = await client.delete(f"/api/v1/billing/subscription?version={sub['version']}", headers=auth)
    assert cancelled.status_code == 202
    assert stripe_api.requests[-1]["form"] == {"cancel_at_period_end": "true"}


async def test_reconciliation_repairs_a_missed_webhook(client, factory, maker, owner_engine, stripe_api, app):
    from sqlalchemy import text

    from webapp.billing import reconcile

    owner = await factory.org_with_owner(plan="crew")
    async with owner_engine.begin() as conn:  # a Stripe subscriber we last heard had 5 seats
        await conn.execute(
            text(
                "UPDATE billing_subscriptions SET provider = 'stripe', provider_subscription_id = 'sub_missed', "
                "provider_seats = 5, seats = 5 WHERE organization_id = :o"
            ),
            {"o": owner.org_id},
        )
    crew = await plan_id(owner_engine, "crew")
    now = int(time.time())
    stripe_api.subscriptions["sub_missed"] = {
        "id": "sub_missed", "object": "subscription", "customer": "cus_9", "status": "past_due",
        "cancel_at_period_end": False, "current_period_start": now - 86400, "current_period_end": now + 86400 * 29,
        "items": {"object": "list", "data": [{"id": "si_a", "object": "subscription_item", "quantity": 1}]},
        "metadata": {"organization_id": str(owner.org_id), "plan_id": str(crew), "seats": "8"},
    }  # fmt: skip
    outcomes = await reconcile.reconcile(maker, app.extensions["closedloop"]["settings"])
    assert outcomes.get("processed", 0) >= 1
    auth = await token_headers(client, owner)
    sub = await (await client.get("/api/v1/billing/subscription", headers=auth)).get_json()
    assert sub["status"] == "past_due" and sub["seats"] == 8 and sub["past_due_since"]
    async with owner_engine.connect() as conn:
        logged = await conn.execute(
            text("SELECT count(*) FROM billing_payment_events WHERE event_id LIKE 'reconcile_sub_missed_%'")
        )
        assert logged.scalar_one() == 1


async def test_the_payment_method_opens_stripes_customer_portal(client, factory, owner_engine, stripe_api):
    from sqlalchemy import text

    from tests.helpers import login

    owner = await factory.org_with_owner(plan="crew")
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE billing_subscriptions SET provider = 'stripe', provider_subscription_id = 'sub_portal', "
                "provider_customer_id = 'cus_portal' WHERE organization_id = :o"
            ),
            {"o": owner.org_id},
        )
    token = await login(client, owner.email, owner.password)
    answer = await client.post(f"/o/{owner.org_slug}/billing/payment-method", form={"csrf_token": token})
    assert answer.status_code == 303 and answer.headers["Location"] == "https://billing.stripe.test/p/session_1"
    call = stripe_api.requests[-1]
    assert (call["method"], call["path"]) == ("POST", "/v1/billing_portal/sessions")
    assert call["form"]["customer"] == "cus_portal"
    assert call["form"]["return_url"].endswith(f"/o/{owner.org_slug}/billing")


async def test_a_one_time_purchase_goes_through_a_stripe_checkout_in_payment_mode(
    client, factory, maker, owner_engine, stripe_api
):
    from sqlalchemy import text

    owner = await factory.org_with_owner(plan="crew")
    auth = await token_headers(client, owner)
    bought = await client.post(
        "/api/v1/billing/payments/one-time", headers=auth, json={"product": "simulation_credits", "quantity": 2}
    )
    payment = await bought.get_json()
    assert bought.status_code == 201, payment
    assert payment["provider"] == "stripe" and payment["checkout_url"].startswith("https://checkout.stripe.test/")
    [call] = stripe_api.requests
    form = call["form"]
    assert (call["path"], form["mode"]) == ("/v1/checkout/sessions", "payment")
    assert form["line_items[0][price_data][unit_amount]"] == "1000" and form["line_items[0][quantity]"] == "2"
    assert form["payment_intent_data[metadata][payment_id]"] == payment["id"]
    assert call["headers"]["Idempotency-Key"] == f"payment-{payment['id']}"

    async def deliver(kind: str, obj: dict) -> str:
        body = json.dumps({"id": f"evt_{kind}_{obj['id']}", "object": "event", "type": kind,
                           "created": int(time.time()), "data": {"object": obj}})  # fmt: skip
        header = stripe.WebhookSignature.generate_signature_header(body, SECRET)
        taken = await client.post(
            "/api/v1/webhooks/stripe", data=body.encode(),
            headers={"Content-Type": "application/json", "Stripe-Signature": header},
        )  # fmt: skip
        assert taken.status_code == 200
        async with owner_engine.connect() as conn:
            row = await conn.execute(
                text("SELECT id FROM billing_payment_events WHERE event_id = :e"), {"e": f"evt_{kind}_{obj['id']}"}
            )
            event_id = row.scalar_one()
        outcome = await processing.process_event(maker, event_id)
        if outcome is not None:
            return str(outcome)
        for _ in range(100):  # a live worker of this test session took it first: read what it decided
            async with owner_engine.connect() as conn:
                status = (
                    await conn.execute(text("SELECT status FROM billing_payment_events WHERE id = :i"), {"i": event_id})
                ).scalar_one()
            if status != "received":
                return status
            await asyncio.sleep(0.1)
        return status

    meta = {"organization_id": str(owner.org_id), "payment_id": payment["id"]}
    session_id = "cs_test_1"  # what the local Stripe answered the checkout with
    unpaid = {"id": session_id, "object": "checkout.session", "mode": "payment", "payment_status": "unpaid",
              "metadata": meta}  # fmt: skip
    assert await deliver("checkout.session.completed", unpaid) == "ignored"  # a bank debit still settling
    assert await deliver("checkout.session.async_payment_succeeded", unpaid) == "processed"
    refund = {"id": "ch_1", "object": "charge", "payment_intent": "pi_real_1", "metadata": meta}
    assert await deliver("charge.refunded", refund) == "processed"
    listed = await (await client.get("/api/v1/billing/payments", headers=auth)).get_json()
    [row] = [p for p in listed["items"] if p["id"] == payment["id"]]
    assert row["status"] == "refunded" and row["paid_at"]
