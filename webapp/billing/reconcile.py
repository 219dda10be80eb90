"""Reconciliation: our subscriptions compared with the providers'. Each provider-backed subscription is fetched
from its provider and its state stored as an event of our own (`reconcile_…`) that takes the same processing path
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
from webapp.billing.providers import adapter_for
from webapp.billing.subscriptions import now
from webapp.core.errors import Conflict
from webapp.core.ids import new_id
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import unit_of_work

log = logging.getLogger(__name__)
REASON = "billing: reconcile subscriptions with the provider"


async def reconcile(maker: async_sessionmaker, settings) -> dict[str, int]:
    """Fetch every provider-backed subscription (Stripe, Polar, Dodo) and apply what the provider says; counts of
    outcomes. A provider not set up on this server is counted as unconfigured and its subscriptions skipped."""
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason=REASON)
        stmt = (
            select(Subscription.provider, Subscription.provider_subscription_id)
            .where(Subscription.provider.is_not(None), Subscription.provider != Provider.SANDBOX)
            .order_by(Subscription.provider)
        )
        references = (await session.execute(stmt)).all()
    outcomes: dict[str, int] = {}
    adapters: dict[Provider, object] = {}

    def count(outcome: str) -> None:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    for provider, reference in references:
        try:
            adapter = adapters.get(provider) or adapters.setdefault(provider, adapter_for(provider, settings))
        except Conflict:
            count("unconfigured")
            continue
        try:
            kind, payload = await adapter.fetch_event(reference)
        except Exception:  # one unreachable subscription must not stop the rest; the next run tries again
            log.exception("could not fetch %s from %s", reference, provider)
            count("unreachable")
            continue
        count(str(await _apply(maker, provider, reference, kind, payload)))
    return outcomes


async def _apply(
    maker: async_sessionmaker, provider: Provider, reference: str, kind: str, payload: dict
) -> EventStatus | None:
    stamp = int(time.time())
    event_ref = f"reconcile_{reference}_{stamp}"
    payload = {"id": event_ref, "created": stamp, **payload}
    event_id = new_id()
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason=REASON)
        session.add(
            PaymentEvent(
                id=event_id, provider=provider, event_id=event_ref, type=kind,
                payload=json.loads(json.dumps(payload, default=str)), occurred_at=now(),
            )
        )  # fmt: skip
    return await processing.process_event(maker, uuid.UUID(str(event_id)))
