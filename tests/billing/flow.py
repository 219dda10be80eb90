"""The sandbox's way through billing, for tests: its signed deliveries to the webhook endpoint and the worker's
processing of each, run in the test's process (the same functions the delivery job and the worker call)."""

from __future__ import annotations

import json

import stripe
from sqlalchemy import text

from tests.helpers import token_headers
from webapp.billing import processing, sandbox
from webapp.billing.models import Checkout, Plan
from webapp.core.tenancy import RequestContext, scope_session
from webapp.core.transaction import unit_of_work


async def plan_id(owner_engine, key: str):
    """The current version of a plan."""
    async with owner_engine.connect() as conn:
        return (
            await conn.execute(text("SELECT id FROM billing_plans WHERE key = :k AND status = 'current'"), {"k": key})
        ).scalar_one()


async def applied(maker, owner_engine, row_id) -> str:
    """Apply a stored event as the worker does and say what became of it. A live worker (the browser tests' stack
    shares this database and queue) may have applied it first: then its recorded outcome is the answer."""
    outcome = await processing.process_event(maker, row_id)
    if outcome is not None:
        return str(outcome)
    async with owner_engine.connect() as conn:
        status = await conn.execute(text("SELECT status FROM billing_payment_events WHERE id = :i"), {"i": row_id})
        return str(status.scalar_one())


async def deliver(client, maker, owner_engine, settings, events: list[dict]) -> list:
    """POST each event signed as the sandbox signs it, then apply it as the worker does; the outcomes."""
    secret = settings.webhook_secrets("sandbox")[0]
    outcomes = []
    for event in events:
        body = json.dumps(event)
        header = stripe.WebhookSignature.generate_signature_header(body, secret)
        answer = await client.post(
            "/api/v1/webhooks/sandbox",
            data=body.encode(),
            headers={"Content-Type": "application/json", "Stripe-Signature": header},
        )
        assert answer.status_code == 200, await answer.get_json()
        async with owner_engine.connect() as conn:
            row = await conn.execute(
                text("SELECT id FROM billing_payment_events WHERE provider = 'sandbox' AND event_id = :e"),
                {"e": event["id"]},
            )
            row_id = row.scalar_one()
        outcomes.append(await applied(maker, owner_engine, row_id))
    return outcomes


async def upgrade(client, maker, owner_engine, settings, owner, key: str = "crew", seats: int | None = None) -> dict:
    """Buy `key` through the sandbox checkout (API, Pay, webhooks); the access token's headers."""
    auth = await token_headers(client, owner)
    chosen = await plan_id(owner_engine, key)
    body = {"plan_id": str(chosen)} | ({"seats": seats} if seats else {})
    started = await client.post("/api/v1/billing/subscription", headers=auth, json=body)
    assert started.status_code == 201, await started.get_json()
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        events = await sandbox.pay(
            session,
            RequestContext(user_id=owner.id, org_id=owner.org_id),
            await session.get(Checkout, (await started.get_json())["id"]),
            await session.get(Plan, chosen),
        )
    await deliver(client, maker, owner_engine, settings, events)
    return auth
