"""Webhook intake: verify on the raw body, store the event once, hand it to the worker — nothing else on the request
path, so the provider hears 2xx well inside its timeout. The one INSERT runs on the driver connection in autocommit
(one round trip: no session, no scope to set — the events table takes inserts from anyone and shows rows to no
one but staff and the worker). A bad or missing signature stores nothing but a security event."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from webapp.billing.enums import Provider
from webapp.billing.webhooks import SignatureError, VerifiedEvent, verify
from webapp.core.errors import BadRequest
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext
from webapp.core.transaction import unit_of_work
from webapp.security.enums import SecurityEventType, Severity
from webapp.security.service import record_event

# no RETURNING and no ON CONFLICT: the app role may add an event but not read one back (RLS: staff and the worker
# read them), and ON CONFLICT would need to read the row it collides with; a duplicate is the unique index's error
_STORE = """
    INSERT INTO billing_payment_events (id, provider, event_id, type, payload, occurred_at, received_at, status,
        attempts)
    VALUES ($1, $2::billing_provider, $3, $4, $5::jsonb, $6, now(), 'received', 0)
"""


log = logging.getLogger(__name__)
UNIQUE_EVENT = "uq_billing_payment_events_provider_event"


@dataclass(frozen=True)
class Receipt:
    """What the provider is told: stored now, or a duplicate of an event already stored."""

    event_id: str
    type: str
    duplicate: bool


async def _refuse(maker: async_sessionmaker, ctx: RequestContext, provider: Provider, reason: str) -> None:
    async with unit_of_work(maker) as session:
        await record_event(
            session,
            ctx,
            SecurityEventType.WEBHOOK_REJECTED,
            severity=Severity.WARNING,
            metadata={"provider": str(provider), "reason": reason},
            organization_id=None,
        )


async def receive(
    engine: AsyncEngine,
    maker: async_sessionmaker,
    ctx: RequestContext,
    provider: Provider,
    raw: bytes,
    headers,
    secrets: list[str],
    enqueue,
    parsed: object = None,
) -> Receipt:
    """Verify, store once, and enqueue its processing; BadRequest (400) when the signature fails. (Should the queue
    be unreachable, the stored event still is applied: the retry sweep takes events left waiting.)"""
    try:
        event: VerifiedEvent = verify(provider, raw, headers, secrets, parsed)
    except SignatureError as exc:
        await _refuse(maker, ctx, provider, str(exc))
        raise BadRequest("The webhook signature does not verify.", {"reason": str(exc)}) from None
    row_id = new_id()
    values = (row_id, str(provider), event.event_id, event.type, _jsonb_text(raw, event.payload), event.occurred_at)
    async with engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        try:
            await driver.execute(_STORE, *values)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != UNIQUE_EVENT:
                raise
            return Receipt(event.event_id, event.type, duplicate=True)  # a delivery again of a stored event
    try:
        await enqueue(str(row_id))
    except Exception:  # stored is what counts: the sweep applies events the queue never got
        log.warning("could not queue billing event %s; the retry sweep will take it", row_id, exc_info=True)
    return Receipt(event.event_id, event.type, duplicate=False)


def _jsonb_text(raw: bytes, payload: dict) -> str:
    """The body as it came (JSONB keeps its meaning); JSONB refuses only the NUL escape, so such a body is
    re-serialised without the NULs (it was verified first, on the raw bytes)."""
    if b"\\u0000" not in raw:
        return raw.decode("utf-8")
    return json.dumps(payload).replace("\\u0000", "")
