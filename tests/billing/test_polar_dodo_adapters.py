"""The Polar and Dodo adapters through their official SDKs against a local server that records their API calls:
a checkout for the configured product with the seats and our ids as metadata; the provider's own webhook (signed
by the standardwebhooks signer) then sets the subscription; seat and plan changes, cancel at period end, the
customer portal and reconciliation each reach the provider the way its API expects."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta

import pytest
import standardwebhooks
from polar.v2026_10 import outputs as polar_types
from sqlalchemy import text

from tests.billing.flow import applied, plan_id
from tests.billing.json_api_server import JsonApiServer, schema_sample
from tests.helpers import login, token_headers
from webapp.billing import reconcile

SECRET = "whsec_" + base64.b64encode(b"adapter-test-secret-32-bytes-ok!").decode()


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _polar_subscription(sub_id: str, org_id, plan, status: str, seats: int, **more) -> dict:
    now = datetime.now(UTC).replace(microsecond=0)
    return schema_sample(
        polar_types.Subscription, id=sub_id, status=status, seats=seats, customer_id="polar_cus_1",
        current_period_start=_iso(now), current_period_end=_iso(now + timedelta(days=30)),
        modified_at=_iso(now), recurring_interval="month", cancel_at_period_end=False,
        metadata={"organization_id": str(org_id), "plan_id": str(plan)}, **more,
    )  # fmt: skip


def _polar_routes(known: dict) -> dict:
    def checkout(entry):
        return 201, schema_sample(polar_types.Checkout, id="polar_co_1", url="https://polar.test/checkout/polar_co_1")

    def subscription(entry):
        sub_id = entry["path"].rsplit("/", 1)[-1]
        return 200, known.get(sub_id) or schema_sample(polar_types.Subscription, id=sub_id)

    def portal(entry):
        return 201, schema_sample(polar_types.CustomerSession, customer_portal_url="https://polar.test/portal/s1")

    return {("POST", "/v1/checkouts"): checkout, ("PATCH", "/v1/subscriptions/"): subscription,
            ("GET", "/v1/subscriptions/"): subscription, ("POST", "/v1/customer-sessions"): portal}  # fmt: skip


def _dodo_subscription(sub_id: str, org_id, plan, status: str, seats: int) -> dict:
    now = datetime.now(UTC).replace(microsecond=0)
    return {"subscription_id": sub_id, "status": status, "quantity": seats, "product_id": "dodo_prod_crew_m",
            "previous_billing_date": _iso(now), "next_billing_date": _iso(now + timedelta(days=30)),
            "payment_frequency_interval": "Month", "cancel_at_next_billing_date": False,
            "customer": {"customer_id": "dodo_cus_1", "email": "owner@example.test", "name": "Owner"},
            "metadata": {"organization_id": str(org_id), "plan_id": str(plan)}}  # fmt: skip


def _dodo_routes(known: dict) -> dict:
    def checkout(entry):
        return 200, {"session_id": "cks_dodo_1", "checkout_url": "https://dodo.test/session/cks_dodo_1"}

    def subscription(entry):
        sub_id = entry["path"].rsplit("/", 1)[-1]
        return 200, known.get(sub_id) or {"subscription_id": sub_id}

    return {("POST", "/checkouts"): checkout, ("PATCH", "/subscriptions/"): subscription,
            ("GET", "/subscriptions/"): subscription,
            ("POST", "/subscriptions/"): lambda entry: (200, {"payment_id": None}),
            ("POST", "/customers/"): lambda entry: (200, {"link": "https://dodo.test/portal/s1"})}  # fmt: skip


@pytest.fixture
def provider_api(app, request):
    """The named provider (polar or dodo) set up as this server's, its API a local recording server."""
    provider = request.param
    extension = app.extensions["closedloop"]
    before = extension["settings"]
    known: dict[str, dict] = {}
    routes = _polar_routes(known) if provider == "polar" else _dodo_routes(known)
    with JsonApiServer(routes) as server:
        server.known = known
        settings = {
            "polar": {"polar_access_token": "polar_oat_local", "polar_api_base": server.url,
                      "polar_products": "crew:month=polar_prod_crew_m, crew:year=polar_prod_crew_y,"
                                        "mission-control:month=polar_prod_mc_m,simulation_credits=polar_prod_credits",
                      "polar_webhook_secret": SECRET},
            "dodo": {"dodo_api_key": "dodo_key_local", "dodo_api_base": server.url,
                     "dodo_products": "crew:month=dodo_prod_crew_m,mission-control:month=dodo_prod_mc_m,"
                                      "simulation_credits=dodo_prod_credits",
                     "dodo_webhook_secret": SECRET},
        }[provider]  # fmt: skip
        extension["settings"] = before.with_overrides(billing_provider=provider, **settings)
        server.provider = provider
        yield server
    extension["settings"] = before


async def _deliver(client, maker, owner_engine, provider: str, kind: str, data: dict) -> str:
    """POST an event signed by standardwebhooks' own signer, then apply it as the worker does."""
    msg_id = f"msg_{secrets.token_hex(8)}"
    body = json.dumps({"type": kind, "timestamp": _iso(datetime.now(UTC)), "data": data})
    when = datetime.now(UTC)
    signature = standardwebhooks.Webhook(SECRET).sign(msg_id, when, body)
    headers = {"Content-Type": "application/json", "webhook-id": msg_id,
               "webhook-timestamp": str(int(when.timestamp())), "webhook-signature": signature}  # fmt: skip
    answer = await client.post(f"/api/v1/webhooks/{provider}", data=body.encode(), headers=headers)
    assert answer.status_code == 200, await answer.get_json()
    async with owner_engine.connect() as conn:
        row = await conn.execute(
            text("SELECT id FROM billing_payment_events WHERE provider = :p AND event_id = :e"),
            {"p": provider, "e": msg_id},
        )
        return await applied(maker, owner_engine, row.scalar_one())


@pytest.mark.parametrize("provider_api", ["polar", "dodo"], indirect=True)
async def test_checkout_webhook_changes_and_cancel(client, factory, maker, owner_engine, provider_api):
    provider = provider_api.provider
    owner = await factory.org_with_owner(plan="free")
    auth = await token_headers(client, owner)
    crew, mission_control = await plan_id(owner_engine, "crew"), await plan_id(owner_engine, "mission-control")

    started = await client.post("/api/v1/billing/subscription", headers=auth, json={"plan_id": str(crew), "seats": 7})
    checkout = await started.get_json()
    assert started.status_code == 201, checkout
    [call] = provider_api.requests
    body = call["json"]
    assert body["metadata"]["organization_id"] == str(owner.org_id) and body["metadata"]["seats"] == "7"
    assert body["metadata"]["checkout_id"] == checkout["id"] and body["metadata"]["plan_id"] == str(crew)
    if provider == "polar":
        assert checkout["checkout_url"] == "https://polar.test/checkout/polar_co_1"
        assert (call["method"], call["path"]) == ("POST", "/v1/checkouts/")
        assert call["headers"]["authorization"] == "Bearer polar_oat_local"
        assert body["products"] == ["polar_prod_crew_m"] and body["seats"] == 7
        assert body["external_customer_id"] == str(owner.org_id)
    else:
        assert checkout["checkout_url"] == "https://dodo.test/session/cks_dodo_1"
        assert (call["method"], call["path"]) == ("POST", "/checkouts")
        assert call["headers"]["authorization"] == "Bearer dodo_key_local"
        assert body["product_cart"] == [{"product_id": "dodo_prod_crew_m", "quantity": 7}]

    # the provider's webhook activates the subscription and completes the checkout
    if provider == "polar":
        sub_id = "polar_sub_1"
        state = _polar_subscription(sub_id, owner.org_id, crew, "active", 7)
        assert await _deliver(client, maker, owner_engine, "polar", "subscription.active", state) == "processed"
        paid = schema_sample(polar_types.Checkout, id="polar_co_1", status="succeeded")
        assert await _deliver(client, maker, owner_engine, "polar", "checkout.updated", paid) == "processed"
    else:
        sub_id = "dodo_sub_1"
        state = _dodo_subscription(sub_id, owner.org_id, crew, "active", 7)
        assert await _deliver(client, maker, owner_engine, "dodo", "subscription.active", state) == "processed"
        paid = {"payment_id": "pay_1", "checkout_session_id": "cks_dodo_1", "subscription_id": sub_id}
        assert await _deliver(client, maker, owner_engine, "dodo", "payment.succeeded", paid) == "processed"
    sub = await (await client.get("/api/v1/billing/subscription", headers=auth)).get_json()
    assert sub["provider"] == provider and sub["seats"] == 7 and sub["plan"]["key"] == "crew"
    async with owner_engine.connect() as conn:
        status = await conn.execute(text("SELECT status FROM billing_checkouts WHERE id = :i"), {"i": checkout["id"]})
        assert status.scalar_one() == "completed"

    # more seats: Polar's seats, Dodo's quantity on the same product
    changed = await client.patch(
        "/api/v1/billing/subscription", headers=auth, json={"seats": 9, "version": sub["version"]}
    )
    assert changed.status_code == 202, await changed.get_json()
    call = provider_api.requests[-1]
    if provider == "polar":
        assert (call["method"], call["path"]) == ("PATCH", f"/v1/subscriptions/{sub_id}")
        assert call["json"] == {"seats": 9, "proration_behavior": "invoice"}
    else:
        assert (call["method"], call["path"]) == ("POST", f"/subscriptions/{sub_id}/change-plan")
        assert call["json"]["product_id"] == "dodo_prod_crew_m" and call["json"]["quantity"] == 9
        assert call["json"]["proration_billing_mode"] == "prorated_immediately"

    # another plan: its configured product, with our metadata following the plan
    before = len(provider_api.requests)
    moved = await client.patch(
        "/api/v1/billing/subscription", headers=auth, json={"plan_id": str(mission_control), "version": sub["version"]}
    )
    assert moved.status_code == 202, await moved.get_json()
    product_call = provider_api.requests[before]
    expected_product = "polar_prod_mc_m" if provider == "polar" else "dodo_prod_mc_m"
    assert product_call["json"]["product_id"] == expected_product
    assert product_call["json"]["metadata"]["plan_id"] == str(mission_control)

    cancelled = await client.delete(f"/api/v1/billing/subscription?version={sub['version']}", headers=auth)
    assert cancelled.status_code == 202
    call = provider_api.requests[-1]
    assert (call["method"], call["path"]) == ("PATCH", f"/v1/subscriptions/{sub_id}" if provider == "polar"
                                              else f"/subscriptions/{sub_id}")  # fmt: skip
    expected = {"cancel_at_period_end": True} if provider == "polar" else {"cancel_at_next_billing_date": True}
    assert call["json"] == expected


@pytest.mark.parametrize("provider_api", ["polar", "dodo"], indirect=True)
async def test_reconciliation_and_the_customer_portal(client, factory, maker, owner_engine, provider_api, app):
    provider = provider_api.provider
    owner = await factory.org_with_owner(plan="crew")
    sub_id = f"{provider}_sub_missed"
    async with owner_engine.begin() as conn:  # a subscriber we last heard had 5 seats and was paying
        await conn.execute(
            text(
                "UPDATE billing_subscriptions SET provider = :p, provider_subscription_id = :s, provider_seats = 5, "
                "seats = 5, provider_customer_id = :c WHERE organization_id = :o"
            ),
            {"p": provider, "s": sub_id, "c": f"{provider}_cus_1", "o": owner.org_id},
        )
    crew = await plan_id(owner_engine, "crew")
    if provider == "polar":
        provider_api.known[sub_id] = _polar_subscription(sub_id, owner.org_id, crew, "past_due", 8)
    else:
        provider_api.known[sub_id] = _dodo_subscription(sub_id, owner.org_id, crew, "on_hold", 8)
    outcomes = await reconcile.reconcile(maker, app.extensions["closedloop"]["settings"])
    assert outcomes.get("processed", 0) >= 1, outcomes
    fetched = [r for r in provider_api.requests if r["method"] == "GET" and r["path"].endswith(sub_id)]
    assert len(fetched) == 1
    auth = await token_headers(client, owner)
    sub = await (await client.get("/api/v1/billing/subscription", headers=auth)).get_json()
    assert sub["status"] == "past_due" and sub["seats"] == 8 and sub["past_due_since"]

    token = await login(client, owner.email, owner.password)
    answer = await client.post(f"/o/{owner.org_slug}/billing/payment-method", form={"csrf_token": token})
    assert answer.status_code == 303
    call = provider_api.requests[-1]
    if provider == "polar":
        assert answer.headers["Location"] == "https://polar.test/portal/s1"
        assert call["path"] == "/v1/customer-sessions/" and call["json"]["customer_id"] == "polar_cus_1"
    else:
        assert answer.headers["Location"] == "https://dodo.test/portal/s1"
        assert call["path"].startswith("/customers/dodo_cus_1/customer-portal/session")


@pytest.mark.parametrize("provider_api", ["polar", "dodo"], indirect=True)
async def test_a_plan_without_a_configured_product_is_refused_before_anything_is_asked(
    client, factory, owner_engine, provider_api
):
    owner = await factory.org_with_owner(plan="free")
    auth = await token_headers(client, owner)
    mission_control = await plan_id(owner_engine, "mission-control")
    refused = await client.post(
        "/api/v1/billing/subscription", headers=auth,
        json={"plan_id": str(mission_control), "interval": "year"},
    )  # fmt: skip
    assert refused.status_code == 409
    assert f"{provider_api.provider.upper()}_PRODUCTS" in json.dumps(await refused.get_json())
    assert provider_api.requests == []
    async with owner_engine.connect() as conn:
        count = await conn.execute(
            text("SELECT count(*) FROM billing_checkouts WHERE organization_id = :o"), {"o": owner.org_id}
        )
        assert count.scalar_one() == 0


@pytest.mark.parametrize("provider_api", ["polar", "dodo"], indirect=True)
async def test_a_one_time_purchase_is_paid_at_the_provider_and_marked_by_its_webhook(
    client, factory, maker, owner_engine, provider_api
):
    provider = provider_api.provider
    owner = await factory.org_with_owner(plan="crew")
    auth = await token_headers(client, owner)
    bought = await client.post(
        "/api/v1/billing/payments/one-time", headers=auth, json={"product": "simulation_credits", "quantity": 3}
    )
    payment = await bought.get_json()
    assert bought.status_code == 201, payment
    assert payment["provider"] == provider and payment["status"] == "pending" and payment["amount_minor"] == 3000
    [call] = provider_api.requests
    assert call["json"]["metadata"] == {"organization_id": str(owner.org_id), "payment_id": payment["id"]}
    if provider == "polar":
        assert payment["checkout_url"] == "https://polar.test/checkout/polar_co_1"
        assert call["json"]["products"] == ["polar_prod_credits"] and call["json"]["units"] == 3
        paid = {"id": "polar_order_1", "checkout_id": "polar_co_1", "subscription_id": None,
                "metadata": {"organization_id": str(owner.org_id), "payment_id": payment["id"]}}  # fmt: skip
        assert await _deliver(client, maker, owner_engine, "polar", "order.paid", paid) == "processed"
        again = await _deliver(client, maker, owner_engine, "polar", "order.paid", paid)
        assert again == "ignored"  # a second delivery of the news changes nothing
        refunded = await _deliver(client, maker, owner_engine, "polar", "order.refunded", paid)
        assert refunded == "processed"
        final = "refunded"
    else:
        assert payment["checkout_url"] == "https://dodo.test/session/cks_dodo_1"
        assert call["json"]["product_cart"] == [{"product_id": "dodo_prod_credits", "quantity": 3}]
        failed = {"payment_id": "pay_9", "checkout_session_id": "cks_dodo_1", "subscription_id": None,
                  "metadata": {"organization_id": str(owner.org_id), "payment_id": payment["id"]}}  # fmt: skip
        assert await _deliver(client, maker, owner_engine, "dodo", "payment.failed", failed) == "processed"
        assert await _deliver(client, maker, owner_engine, "dodo", "payment.succeeded", failed) == "processed"
        final = "succeeded"
    listed = await (await client.get("/api/v1/billing/payments", headers=auth)).get_json()
    [row] = [p for p in listed["items"] if p["id"] == payment["id"]]
    assert row["status"] == final and row["paid_at"] and row["checkout_url"] is None
