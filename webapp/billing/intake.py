"""Webhook intake: verify on the raw body, store the event once, hand it to the worker — nothing else on the request
path, so the provider hears 2xx well inside its timeout. A bad or missing signature stores nothing but a security
event (in its own transaction: the request's is rolled back with the 400)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webapp.billing.enums import Provider
from webapp.billing.webhooks import SignatureError, VerifiedEvent, verify
from webapp.core.errors import BadRequest
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext
from webapp.core.transaction import after_commit, unit_of_work
from webapp.security.enums import SecurityEventType, Severity
from webapp.security.service import record_event

# no RETURNING and no ON CONFLICT: the app role may add an event but not read one back (RLS: staff and the worker
# read them), and ON CONFLICT would need to read the row it collides with; a duplicate is the unique index's error
_STORE = text("""
    INSERT INTO billing_payment_events (id, provider, event_id, type, payload, occurred_at, received_at, status,
        attempts)
    VALUES (:id, CAST(:provider AS billing_provider), :event_id, :type, CAST(:payload AS jsonb), :occurred_at, now(),
        'received', 0)
""")


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
    session: AsyncSession,
    maker: async_sessionmaker,
    ctx: RequestContext,
    provider: Provider,
    raw: bytes,
    headers,
    secrets: list[str],
    enqueue,
) -> Receipt:
    """Verify, store once, and enqueue processing after commit; BadRequest (400) when the signature fails."""
    try:
        event: VerifiedEvent = verify(provider, raw, headers, secrets)
    except SignatureError as exc:
        await _refuse(maker, ctx, provider, str(exc))
        raise BadRequest("The webhook signature does not verify.", {"reason": str(exc)}) from None
    row_id = new_id()
    values = {
        "id": row_id,
        "provider": str(provider),
        "event_id": event.event_id,
        "type": event.type,
        "payload": _jsonb_text(raw, event.payload),
        "occurred_at": event.occurred_at,
    }
    try:
        await session.execute(_STORE, values)
    except IntegrityError as exc:
        if UNIQUE_EVENT not in str(exc.orig):
            raise
        await session.rollback()  # the request did nothing else: a delivery again of a stored event
        return Receipt(event.event_id, event.type, duplicate=True)
    after_commit(session, lambda: enqueue(str(row_id)))
    return Receipt(event.event_id, event.type, duplicate=False)


def _jsonb_text(raw: bytes, payload: dict) -> str:
    """The body as it came (JSONB keeps its meaning); JSONB refuses only the NUL escape, so such a body is
    re-serialised without the NULs (it was verified first, on the raw bytes)."""
    if b"\\u0000" not in raw:
        return raw.decode("utf-8")
    return json.dumps(payload).replace("\\u0000", "")
