"""Provider webhooks: signatures checked on the raw body with each provider's own library (events here are signed by
those libraries' own signers), each event stored once, a bad signature stored as nothing but a security event; the
worker's processing makes out-of-order and duplicate deliveries end where in-order single delivery ends; and the
sandbox checkout upgrades an organization through the same path."""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks
import stripe
from sqlalchemy import text

from tests.billing.flow import applied
from tests.helpers import token_headers
from webapp.billing import processing, sandbox
from webapp.billing.models import Checkout, Plan
from webapp.core.tenancy import RequestContext, scope_session
from webapp.core.transaction import unit_of_work

STRIPE_SECRET = "whsec_test_stripe_" + "a" * 24
POLAR_SECRET = "polar_whs_legacyformsecret1234567890"
DODO_SECRET = "whsec_" + base64.b64encode(b"dodo-secret-of-32-bytes-length!!").decode()


@pytest.fixture
def providers(app):
    """Secrets for the three real providers, as the environment would set them (restored after)."""
    extension = app.extensions["closedloop"]
    before = extension["settings"]
    extension["settings"] = before.with_overrides(
        stripe_webhook_secret=f"whsec_old_{'b' * 24},{STRIPE_SECRET}",  # a rotation under way: both are taken
        polar_webhook_secret=POLAR_SECRET,
        dodo_webhook_secret=DODO_SECRET,
    )
    yield extension["settings"]
    extension["settings"] = before


def _stripe_event(kind: str, obj: dict, created: int | None = None) -> str:
    event = {"id": f"evt_{secrets.token_hex(8)}", "object": "event", "type": kind,
             "created": created or int(time.time()), "data": {"object": obj}}  # fmt: skip
    return json.dumps(event)


async def _post_stripe(client, body: str, secret: str = STRIPE_SECRET, *, provider="stripe", header=None, at=None):
    header = header or stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=at)
    return await client.post(
        f"/api/v1/webhooks/{provider}",
        data=body.encode(),
        headers={"Content-Type": "application/json", "Stripe-Signature": header},
    )


def _standard_headers(signer: standardwebhooks.Webhook, body: str, msg_id: str | None = None) -> dict:
    msg_id = msg_id or f"msg_{secrets.token_hex(8)}"
    signature = signer.sign(msg_id, datetime.now(UTC), body)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(time.time())), "webhook-signature": signature}


async def test_stripe_signatures(client, providers, count_rows):
    body = _stripe_event("invoice.created", {"id": "in_1"})
    event_id = json.loads(body)["id"]
    ok = await _post_stripe(client, body)
    assert ok.status_code == 200 and (await ok.get_json()) == {
        "received": True, "duplicate": False, "event_id": event_id, "type": "invoice.created"
    }  # fmt: skip
    assert await count_rows("billing_payment_events", "event_id = :e AND provider = 'stripe'", e=event_id) == 1
    again = await _post_stripe(client, body)  # a duplicate delivery is acknowledged and not stored twice
    assert again.status_code == 200 and (await again.get_json())["duplicate"] is True
    assert await count_rows("billing_payment_events", "event_id = :e", e=event_id) == 1

    rejected_before = await count_rows("security_events", "event_type = 'webhook.rejected'")
    fresh = _stripe_event("invoice.created", {"id": "in_2"})
    fresh_id = json.loads(fresh)["id"]
    wrong = await _post_stripe(client, fresh, "whsec_somebody_else_" + "c" * 20)
    old = await _post_stripe(client, fresh, at=int(time.time()) - 301)
    reserialised = json.dumps(json.loads(fresh), indent=2)  # what a JSON parser in between would do
    tampered = await _post_stripe(
        client, reserialised, header=stripe.WebhookSignature.generate_signature_header(fresh, STRIPE_SECRET)
    )
    missing = await client.post(
        "/api/v1/webhooks/stripe", data=fresh.encode(), headers={"Content-Type": "application/json"}
    )
    for answer in (wrong, old, tampered, missing):
        assert answer.status_code == 400 and (await answer.get_json())["error"] == "BadRequest"
    assert await count_rows("billing_payment_events", "event_id = :e", e=fresh_id) == 0
    assert await count_rows("security_events", "event_type = 'webhook.rejected'") == rejected_before + 4

    # two signatures during a rotation: one by a retired secret, one by the current one
    rotated = _stripe_event("invoice.created", {"id": "in_3"})
    moment = int(time.time())
    by_old = stripe.WebhookSignature._compute_signature(f"{moment}.{rotated}", "whsec_retired_" + "d" * 24)
    by_new = stripe.WebhookSignature._compute_signature(f"{moment}.{rotated}", STRIPE_SECRET)
    both = await _post_stripe(client, rotated, header=f"t={moment},v1={by_old},v1={by_new}")
    assert both.status_code == 200
    # a configured old secret still verifies while both are configured
    by_configured_old = await _post_stripe(client, _stripe_event("invoice.created", {}), f"whsec_old_{'b' * 24}")
    assert by_configured_old.status_code == 200


async def test_the_intakes_short_way_in_keeps_the_edge(client, app, providers, count_rows):
    """Deliveries skip the page pipeline (webapp.billing.fast_intake) but not what it guarantees."""
    body = _stripe_event("invoice.created", {"id": "in_edge"})
    taken = await client.post(
        "/api/v1/webhooks/stripe", data=body.encode(),
        headers={"Content-Type": "application/json", "X-Request-ID": "delivery-42",
                 "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(body, STRIPE_SECRET)},
    )  # fmt: skip
    assert taken.status_code == 200
    headers = taken.headers
    assert headers["X-Request-ID"] == "delivery-42" and headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff" and "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["Content-Type"] == "application/json"
    metrics = app.extensions["closedloop"]["metrics"]
    route = "/api/v1/webhooks/<any(sandbox, stripe, polar, dodo):provider>"
    counted = metrics.requests.labels("POST", route, "200")._value.get()
    assert counted >= 1

    rejected_before = await count_rows("security_events", "event_type = 'webhook.rejected'")
    stored_before = await count_rows("billing_payment_events")
    too_big = await client.post(
        "/api/v1/webhooks/stripe", data=b"{" + b" " * (providers.max_body_bytes + 1) + b"}",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert too_big.status_code == 413 and (await too_big.get_json())["error"] == "PayloadTooLarge"
    for hostile, error in (
        (b'{"id": "evt_x", "type": "\xff"}', "BadRequest"),  # not UTF-8
        (b'{"id": "evt_x", "type": "a\\u0000b"}', "ValidationError"),  # a NUL PostgreSQL cannot store
        (b'{"id": "evt_x", "amount": NaN}', "BadRequest"),
        (b"[" * 40 + b"]" * 40, "BadRequest"),  # deeper than the edge allows
    ):
        refused = await client.post(
            "/api/v1/webhooks/stripe", data=hostile, headers={"Content-Type": "application/json"}
        )
        assert refused.status_code in (400, 422) and (await refused.get_json())["error"] == error, hostile
    # refused at the edge: nothing stored, and no signature was even looked at
    assert await count_rows("billing_payment_events") == stored_before
    assert await count_rows("security_events", "event_type = 'webhook.rejected'") == rejected_before

    # anything else at these addresses is the app's: other methods, unknown providers
    assert (await client.get("/api/v1/webhooks/stripe")).status_code == 405
    assert (await client.post("/api/v1/webhooks/paypal", data=body.encode())).status_code == 404


async def test_polar_standard_and_legacy_secrets_and_dodo(client, providers, count_rows):
    body = json.dumps({"type": "order.created", "timestamp": "2026-12-03T06:00:00Z", "data": {"id": "ord_1"}})
    legacy = standardwebhooks.Webhook(POLAR_SECRET.encode())  # Polar's legacy form: the secret's own bytes
    answer = await client.post("/api/v1/webhooks/polar", data=body.encode(), headers=_standard_headers(legacy, body))
    assert answer.status_code == 200, await answer.get_json()
    wrong = standardwebhooks.Webhook("whsec_" + base64.b64encode(b"not-the-polar-secret-at-all!").decode())
    refused = await client.post("/api/v1/webhooks/polar", data=body.encode(), headers=_standard_headers(wrong, body))
    assert refused.status_code == 400

    dodo_body = json.dumps({"business_id": "biz_1", "type": "payment.succeeded", "timestamp": "2026-12-03T06:00:00Z",
                            "data": {"payload_type": "Payment", "payment_id": "pay_1"}})  # fmt: skip
    headers = _standard_headers(standardwebhooks.Webhook(DODO_SECRET), dodo_body, msg_id="msg_dodo_1")
    taken = await client.post("/api/v1/webhooks/dodo", data=dodo_body.encode(), headers=headers)
    assert taken.status_code == 200 and (await taken.get_json())["event_id"] == "msg_dodo_1"
    stale = headers | {"webhook-timestamp": str(int(time.time()) - 301)}
    assert (await client.post("/api/v1/webhooks/dodo", data=dodo_body.encode(), headers=stale)).status_code == 400
    assert await count_rows("billing_payment_events", "provider = 'dodo' AND event_id = 'msg_dodo_1'") == 1


async def _event_row(owner_engine, provider: str, event_id: str):
    async with owner_engine.connect() as conn:
        return (
            await conn.execute(
                text("SELECT id FROM billing_payment_events WHERE provider = :p AND event_id = :e"),
                {"p": provider, "e": event_id},
            )
        ).scalar_one()


async def _subscription(owner_engine, org_id) -> dict:
    async with owner_engine.connect() as conn:
        row = await conn.execute(
            text(
                "SELECT s.status, s.seats, s.provider, s.provider_subscription_id, p.key FROM billing_subscriptions s "
                "JOIN billing_plans p ON p.id = s.plan_id WHERE s.organization_id = :o"
            ),
            {"o": org_id},
        )
        return dict(row.mappings().one())


def _sub_object(sub_id: str, org_id, plan_id, status: str, seats: int) -> dict:
    now = int(time.time())
    return {"id": sub_id, "object": "subscription", "customer": "cus_1", "status": status,
            "cancel_at_period_end": False,
            "items": {"data": [{"quantity": seats, "current_period_start": now, "current_period_end": now + 2592000,
                                "price": {"recurring": {"interval": "month"}}}]},
            "metadata": {"organization_id": str(org_id), "plan_id": str(plan_id)}}  # fmt: skip


async def _deliver_and_process(client, maker, owner_engine, bodies: list[str]) -> list:
    outcomes = []
    for body in bodies:
        assert (await _post_stripe(client, body)).status_code == 200
        row_id = await _event_row(owner_engine, "stripe", json.loads(body)["id"])
        outcomes.append(await applied(maker, owner_engine, row_id))
    return outcomes


async def _plan_id(owner_engine, key: str):
    async with owner_engine.connect() as conn:
        return (
            await conn.execute(text("SELECT id FROM billing_plans WHERE key = :k AND status = 'current'"), {"k": key})
        ).scalar_one()


async def test_out_of_order_and_duplicate_events_converge(client, factory, maker, owner_engine, providers):
    owner = await factory.org_with_owner(plan="free")
    crew = await _plan_id(owner_engine, "crew")
    sub_id = f"sub_{secrets.token_hex(6)}"
    t = int(time.time()) - 100
    created = _stripe_event(
        "customer.subscription.created", _sub_object(sub_id, owner.org_id, crew, "incomplete", 5), t
    )
    updated = _stripe_event(
        "customer.subscription.updated", _sub_object(sub_id, owner.org_id, crew, "active", 6), t + 5
    )
    # updated before created, then updated again (a duplicate with a new delivery)
    outcomes = await _deliver_and_process(client, maker, owner_engine, [updated, created])
    assert [str(o) for o in outcomes] == ["processed", "ignored"]
    assert await _subscription(owner_engine, owner.org_id) == {
        "status": "active", "seats": 6, "provider": "stripe", "provider_subscription_id": sub_id, "key": "crew"
    }  # fmt: skip
    assert (await _post_stripe(client, updated)).status_code == 200  # the same event again: stored once, not re-run
    assert (
        await processing.process_event(maker, await _event_row(owner_engine, "stripe", json.loads(updated)["id"]))
        is None
    )

    # canceled before the (older) renewal's update: the organization ends on the free plan either way
    deleted = _stripe_event(
        "customer.subscription.deleted", _sub_object(sub_id, owner.org_id, crew, "canceled", 6), t + 20
    )
    renewed = _stripe_event(
        "customer.subscription.updated", _sub_object(sub_id, owner.org_id, crew, "active", 7), t + 10
    )
    await _deliver_and_process(client, maker, owner_engine, [deleted, renewed])
    final = await _subscription(owner_engine, owner.org_id)
    assert final["key"] == "free" and final["provider"] is None and final["status"] == "active"

    # unknown types are kept and ignored
    unknown = _stripe_event("radar.early_fraud_warning.created", {"id": "issfr_1"})
    assert [str(o) for o in await _deliver_and_process(client, maker, owner_engine, [unknown])] == ["ignored"]


async def test_those_who_pay_hear_of_a_failed_payment_once_and_of_the_end(
    client, factory, maker, owner_engine, providers, mailbox, deliver
):
    owner = await factory.org_with_owner(plan="free")
    crew_member = await factory.member(owner)
    crew = await _plan_id(owner_engine, "crew")
    sub_id = f"sub_{secrets.token_hex(6)}"
    t = int(time.time()) - 100

    def event(kind: str, status: str, at: int) -> str:
        return _stripe_event(kind, _sub_object(sub_id, owner.org_id, crew, status, 5), at)

    await _deliver_and_process(client, maker, owner_engine, [
        event("customer.subscription.created", "active", t),
        event("customer.subscription.updated", "past_due", t + 5),
        event("customer.subscription.updated", "past_due", t + 6),  # the provider's next retry fails too
    ])  # fmt: skip
    await deliver()
    failed = await mailbox.wait_for(owner.email, "Payment failed")
    assert "Crew plan" in failed.subject and "read-only" in failed.text and "14 days" in failed.text
    assert failed.link(f"/o/{owner.org_slug}/billing")
    assert len([m for m in mailbox.to(owner.email) if "Payment failed" in m.subject]) == 1  # once, not per retry
    assert not mailbox.to(crew_member.email)  # only those who may manage billing

    await _deliver_and_process(client, maker, owner_engine, [event("customer.subscription.deleted", "canceled", t + 9)])
    await deliver()
    ended = await mailbox.wait_for(owner.email, "subscription has ended")
    assert "free plan" in ended.text


async def test_the_sandbox_checkout_upgrades_through_the_webhook_path(client, factory, maker, owner_engine, settings):
    owner = await factory.org_with_owner(plan="free")
    auth = await token_headers(client, owner)
    crew = await _plan_id(owner_engine, "crew")
    started = await client.post("/api/v1/billing/subscription", headers=auth, json={"plan_id": str(crew)})
    assert started.status_code == 201, await started.get_json()
    checkout = await started.get_json()
    assert checkout["status"] == "open" and checkout["seats"] == 5 and checkout["provider"] == "sandbox"
    assert checkout["checkout_url"].endswith(f"/o/{owner.org_slug}/billing/sandbox/{checkout['id']}")
    unchanged = await (await client.get("/api/v1/billing/subscription", headers=auth)).get_json()
    assert unchanged["plan"]["key"] == "free"  # nothing changes until the provider says it is paid

    async with unit_of_work(maker) as session:  # what the sandbox's Pay button does
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        row = await session.get(Checkout, checkout["id"])
        plan = await session.get(Plan, crew)
        events = await sandbox.pay(session, RequestContext(user_id=owner.id, org_id=owner.org_id), row, plan)
    secret = settings.webhook_secrets("sandbox")[0]
    for event in events:  # what its delivery job POSTs
        body = json.dumps(event)
        assert (await _post_stripe(client, body, secret, provider="sandbox")).status_code == 200
        await applied(maker, owner_engine, await _event_row(owner_engine, "sandbox", event["id"]))
    sub = await (await client.get("/api/v1/billing/subscription", headers=auth)).get_json()
    assert sub["plan"]["key"] == "crew" and sub["status"] == "active" and sub["provider"] == "sandbox"
    assert sub["seats"] == 5
    async with owner_engine.connect() as conn:
        status = await conn.execute(text("SELECT status FROM billing_checkouts WHERE id = :i"), {"i": checkout["id"]})
        assert status.scalar_one() == "completed"


async def test_the_sandbox_invoice_is_recorded_numbered_and_printable(client, factory, maker, owner_engine, settings):
    owner = await factory.org_with_owner(plan="free")
    auth = await token_headers(client, owner)
    crew = await _plan_id(owner_engine, "crew")
    checkout = await (
        await client.post("/api/v1/billing/subscription", headers=auth, json={"plan_id": str(crew), "seats": 7})
    ).get_json()
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        events = await sandbox.pay(
            session,
            RequestContext(user_id=owner.id, org_id=owner.org_id),
            await session.get(Checkout, checkout["id"]),
            await session.get(Plan, crew),
        )
    secret = settings.webhook_secrets("sandbox")[0]
    for event in reversed(events):  # the invoice first, then the subscription, then the checkout
        assert (await _post_stripe(client, json.dumps(event), secret, provider="sandbox")).status_code == 200
        await applied(maker, owner_engine, await _event_row(owner_engine, "sandbox", event["id"]))
    listed = await (await client.get("/api/v1/billing/invoices", headers=auth)).get_json()
    [invoice] = listed["items"]
    # Crew: $49.00 a month with 5 seats included, and 2 extra seats at $12.00
    assert invoice["number"] == 1 and invoice["status"] == "paid" and invoice["kind"] == "invoice"
    assert invoice["subscription_amount"] == 4900 + 2 * 1200 and invoice["total_amount"] == 7300
    assert [(line["kind"], line["quantity"], line["amount"]) for line in invoice["lines"]] == [
        ("subscription", 1, 4900),
        ("subscription", 2, 2400),
    ]
    assert invoice["display_number"] == f"CL-{owner.org_slug.upper()[:12]}-0001"
    assert invoice["plan_id"] == str(crew)  # it came before the subscription's news, and still names what it bills
    one = await client.get(f"/api/v1/billing/invoices/{invoice['id']}", headers=auth)
    assert one.status_code == 200 and (await one.get_json())["id"] == invoice["id"]

    from tests.helpers import login

    await login(client, owner.email, owner.password)
    page = await client.get(f"/o/{owner.org_slug}/billing/invoices/{invoice['id']}")
    assert page.status_code == 200 and "$73.00" in await page.get_data(as_text=True)
    pdf = await client.get(f"/o/{owner.org_slug}/billing/invoices/{invoice['id']}.pdf")
    assert pdf.status_code == 200 and pdf.content_type == "application/pdf"
    assert (await pdf.get_data()).startswith(b"%PDF")
    billing = await (await client.get(f"/o/{owner.org_slug}/billing")).get_data(as_text=True)
    assert "Crew plan" in billing and "0001" in billing


async def test_a_finalized_invoice_cannot_change_and_the_total_must_add_up(factory, owner_engine, maker):
    from sqlalchemy.exc import DBAPIError

    owner = await factory.org_with_owner(plan="crew")
    async with owner_engine.begin() as conn:
        params = {"o": owner.org_id}
        sub, plan = (
            await conn.execute(text("SELECT id, plan_id FROM billing_subscriptions WHERE organization_id = :o"), params)
        ).one()
        params |= {"s": sub, "p": plan}
        invoice = (
            await conn.execute(
                text(
                    "INSERT INTO billing_invoices (id, organization_id, subscription_id, status, plan_id, period_start,"
                    " period_end, subscription_amount, total_amount, number, finalized_at) VALUES (gen_random_uuid(),"
                    " :o, :s, 'open', :p, now(), now() + interval '1 month', 4900, 4900, 1, now()) RETURNING id"
                ),
                params,
            )
        ).scalar_one()
    params["i"] = invoice
    refused = [
        "UPDATE billing_invoices SET subscription_amount = 1, total_amount = 1 WHERE id = :i",
        "UPDATE billing_invoices SET number = 9 WHERE id = :i",
        "DELETE FROM billing_invoices WHERE id = :i",
        "INSERT INTO billing_invoice_lines (id, organization_id, invoice_id, position, kind, description, amount) "
        "VALUES (gen_random_uuid(), :o, :i, 1, 'usage', 'late', 100)",
        # the CHECKs, on a draft: a total that does not add up, a negative amount
        "INSERT INTO billing_invoices (id, organization_id, subscription_id, status, plan_id, period_start, period_end,"
        " subscription_amount, total_amount) VALUES (gen_random_uuid(), :o, :s, 'open', :p, now(),"
        " now() + interval '1 day', 100, 90)",
        "INSERT INTO billing_invoices (id, organization_id, subscription_id, status, plan_id, period_start, period_end,"
        " refund_amount, total_amount) VALUES (gen_random_uuid(), :o, :s, 'open', :p, now(),"
        " now() + interval '1 day', -5, 5)",
    ]
    for statement in refused:
        with pytest.raises(DBAPIError):
            async with owner_engine.begin() as conn:
                await conn.execute(text(statement), params)
    async with owner_engine.begin() as conn:  # its payment status may still move on, once
        await conn.execute(text("UPDATE billing_invoices SET status = 'paid', paid_at = now() WHERE id = :i"), params)
    with pytest.raises(DBAPIError):
        async with owner_engine.begin() as conn:
            await conn.execute(text("UPDATE billing_invoices SET status = 'open' WHERE id = :i"), params)


async def test_staff_see_the_event_log_reprocess_and_every_subscription(client, factory, providers, count_rows):
    from tests.conftest import csrf_from
    from tests.helpers import login

    body = _stripe_event("invoice.created", {"id": "in_staff"})
    assert (await _post_stripe(client, body)).status_code == 200
    event_id = json.loads(body)["id"]
    owner = await factory.org_with_owner(plan="free")
    await login(client, owner.email, owner.password)
    assert (await client.get("/admin/billing/events")).status_code == 404  # not staff: no such page
    staff = await factory.platform_admin()
    client = client.app.test_client()
    await login(client, staff.email, staff.password)
    page = await client.get("/admin/billing/events?provider=stripe")
    html = await page.get_data(as_text=True)
    assert page.status_code == 200 and event_id in html
    assert (await client.get("/admin/billing/events?status=exploded")).status_code == 422
    forms = re.findall(r'action="/admin/billing/events/([0-9a-f-]+)/reprocess"', html)
    assert forms
    again = await client.post(f"/admin/billing/events/{forms[0]}/reprocess", form={"csrf_token": csrf_from(html)})
    assert again.status_code == 303
    assert await count_rows("audit_logs", "action = 'billing.event_reprocess' AND actor_user_id = :u", u=staff.id) == 1
    subs = await client.get("/admin/billing/subscriptions")
    assert subs.status_code == 200 and owner.org_slug in await subs.get_data(as_text=True)
