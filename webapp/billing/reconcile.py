"""Reconciliation: our subscriptions compared with the provider's. Each provider-backed subscription is fetched
from the provider and its state stored as an event of our own (`reconcile_…`) that takes the same processing path
as a webhook — so a missed or lost webhook is repaired, the repair is in the event log, and a state no newer than
what we applied changes nothing."""

from __future__ import annotations

import json
import logging
import time
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from webapp.billing import processing
from webapp.billing.enums import EventStatus, Provider
from webapp.billing.models import PaymentEvent, Subscription
from webapp.billing.providers import stripe_adapter
from webapp.billing.subscriptions import now
from webapp.core.ids import new_id
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import unit_of_work

log = logging.getLogger(__name__)
REASON = "billing: reconcile subscriptions with the provider"


async def reconcile(maker: async_sessionmaker, settings) -> dict[str, int]:
    """Fetch every Stripe-backed subscription and apply what Stripe says; counts of outcomes."""
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason=REASON)
        stmt = select(Subscription.provider_subscription_id).where(Subscription.provider == Provider.STRIPE)
        references = list((await session.execute(stmt)).scalars())
    outcomes: dict[str, int] = {}
    if not references:
        return outcomes
    config = stripe_adapter.config_of(settings)
    for reference in references:
        try:
            found = await stripe_adapter.retrieve(config, reference)
        except Exception:  # one unreachable subscription must not stop the rest; the next run tries again
            log.exception("could not fetch %s from Stripe", reference)
            outcomes["unreachable"] = outcomes.get("unreachable", 0) + 1
            continue
        outcome = await _apply(maker, reference, found)
        outcomes[str(outcome)] = outcomes.get(str(outcome), 0) + 1
    return outcomes


async def _apply(maker: async_sessionmaker, reference: str, found: dict) -> EventStatus | None:
    kind = "customer.subscription.deleted" if found.get("status") == "canceled" else "customer.subscription.updated"
    stamp = int(time.time())
    payload = {"id": f"reconcile_{reference}_{stamp}", "object": "event", "type": kind, "created": stamp,
               "data": {"object": found}}  # fmt: skip
    event_id = new_id()
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason=REASON)
        session.add(
            PaymentEvent(
                id=event_id, provider=Provider.STRIPE, event_id=payload["id"], type=kind,
                payload=json.loads(json.dumps(payload)), occurred_at=now(),
            )
        )  # fmt: skip
    return await processing.process_event(maker, uuid.UUID(str(event_id)))
