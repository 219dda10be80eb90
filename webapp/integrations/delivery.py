"""Delivering the outbox (Svix's model): an attempt now, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h —
eight in all — sooner never than an endpoint's `Retry-After` asks. Only a 2xx within 15 s succeeds (a redirect is a
failure); a 410 disables the endpoint at once; an endpoint that has failed for five days without a success is
disabled and its admins are emailed. Every attempt is logged with what came back.

Each attempt takes its delivery in a short transaction (a lease, so no second worker sends it meanwhile), sends
outside any transaction, and records the outcome in another; every function takes `now`, so tests can move the
clock."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webapp.config import Settings
from webapp.core.ids import new_id
from webapp.core.tenancy import enable_rls_bypass, scope_session
from webapp.core.transaction import unit_of_work
from webapp.integrations import egress, signing
from webapp.integrations.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
    WebhookSecret,
)
from webapp.integrations.outbox import enqueue_after_commit, message_id

log = logging.getLogger(__name__)

SCHEDULE = (timedelta(0), timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
            timedelta(hours=5), timedelta(hours=10), timedelta(hours=10))  # fmt: skip
DISABLE_AFTER = timedelta(days=5)
LEASE = timedelta(minutes=1)  # longer than an attempt can take (15 s timeout)
MAX_RETRY_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class Outcome:
    """What one attempt ended as."""

    status: str  # succeeded, retrying, failed (exhausted or endpoint disabled), skipped (nothing to send)
    next_attempt_at: datetime | None = None
    response_status: int | None = None


def allow_loopback(settings: Settings) -> bool:
    """Loopback targets pass only outside production, and only when WEBHOOKS_ALLOW_LOOPBACK says so."""
    return settings.webhooks_allow_loopback and not settings.is_production


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A `Retry-After` header (seconds or an HTTP date) as a delay, at most a day."""
    if not value:
        return None
    try:
        delay = timedelta(seconds=int(value))
    except ValueError:
        try:
            delay = parsedate_to_datetime(value) - now
        except (TypeError, ValueError):
            return None
    return max(timedelta(0), min(delay, MAX_RETRY_AFTER))


async def _take(session: AsyncSession, delivery_id: uuid.UUID, now: datetime, manual: bool):
    """Lock the delivery if an attempt is due (any time for a manual one) and lease it."""
    delivery = (await session.execute(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update(skip_locked=True)
    )).scalar_one_or_none()  # fmt: skip
    if delivery is None or delivery.status != "pending":
        return None
    if not manual and delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
        return None
    delivery.attempts += 1
    delivery.next_attempt_at = now + LEASE  # a crash mid-attempt: the sweep tries again after the lease
    return delivery


async def _live_secrets(session: AsyncSession, endpoint_id: uuid.UUID, now: datetime, key: str) -> list[str]:
    rows = (await session.execute(
        select(WebhookSecret.secret_encrypted).where(
            WebhookSecret.endpoint_id == endpoint_id,
            (WebhookSecret.expires_at.is_(None)) | (WebhookSecret.expires_at > now),
        ).order_by(WebhookSecret.created_at.desc())
    )).scalars().all()  # fmt: skip
    return [s for s in (signing.unseal(r, key) for r in rows) if s]


async def attempt(
    maker: async_sessionmaker, settings: Settings, org_id: uuid.UUID, delivery_id: uuid.UUID, *,
    trigger: str = "schedule", now: datetime | None = None,
) -> Outcome:  # fmt: skip
    """One attempt of one delivery, if it is due (a manual trigger — replay, recover, test — needs no wait)."""
    now = now or datetime.now(UTC)
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=org_id)
        delivery = await _take(session, delivery_id, now, manual=trigger != "schedule")
        if delivery is None:
            return Outcome("skipped")
        endpoint = await session.get(WebhookEndpoint, delivery.endpoint_id)
        message = await session.get(WebhookMessage, delivery.message_id)
        number = delivery.attempts
        if endpoint.status != "enabled":
            delivery.status, delivery.finished_at, delivery.next_attempt_at = "failed", now, None
            delivery.last_error = "The endpoint is disabled."
            return Outcome("failed")
        secrets = await _live_secrets(session, endpoint.id, now, settings.secret_key)
        url, body = endpoint.url, json.dumps(message.payload, separators=(",", ":"), sort_keys=True)
        headers = signing.headers(secrets, message_id(message), now, body) if secrets else {}
    address = None
    if not secrets:  # SECRET_KEY changed since the secret was sealed: never send unsigned
        answer = egress.Answer(None, None, None, "The endpoint has no usable secret; rotate it.", 0)
        return await _record(maker, settings, org_id, delivery_id, number, trigger, url, None, headers, answer, now)
    try:
        target = await egress.resolve(url, allow_loopback=allow_loopback(settings))
        address = target.address
        answer = await egress.post(target, body.encode(), headers)
    except egress.EgressRefused as exc:
        answer = egress.Answer(None, None, None, f"Refused: {exc}", 0)
    return await _record(maker, settings, org_id, delivery_id, number, trigger, url, address, headers, answer, now)


async def _record(maker, settings, org_id, delivery_id, number, trigger, url, address, headers, answer, now):
    succeeded = answer.status is not None and 200 <= answer.status < 300
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=org_id)
        delivery = (await session.execute(
            select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
        )).scalar_one()  # fmt: skip
        endpoint = (await session.execute(
            select(WebhookEndpoint).where(WebhookEndpoint.id == delivery.endpoint_id).with_for_update()
        )).scalar_one()  # fmt: skip
        session.add(WebhookAttempt(
            id=new_id(), organization_id=org_id, delivery_id=delivery_id, endpoint_id=endpoint.id, attempt=number,
            trigger=trigger, url=url, address=address,
            request_headers={k: v for k, v in headers.items() if k != "webhook-signature"},
            response_status=answer.status, response_excerpt=answer.excerpt, error=answer.error,
            succeeded=succeeded, duration_ms=answer.duration_ms, started_at=now,
        ))  # fmt: skip
        delivery.last_status_code, delivery.last_error = answer.status, answer.error
        if succeeded:
            delivery.status, delivery.finished_at, delivery.next_attempt_at = "succeeded", now, None
            endpoint.failing_since = None
            return Outcome("succeeded", response_status=answer.status)
        endpoint.failing_since = endpoint.failing_since or now
        if answer.status == 410:
            await disable(session, endpoint, "gone", now)
        elif now - endpoint.failing_since >= DISABLE_AFTER:
            await disable(session, endpoint, "failing", now)
        if endpoint.status != "enabled" or number >= len(SCHEDULE):
            delivery.status, delivery.finished_at, delivery.next_attempt_at = "failed", now, None
            return Outcome("failed", response_status=answer.status)
        delay = max(SCHEDULE[number], retry_after(answer.retry_after, now) or timedelta(0))
        delivery.next_attempt_at = now + delay
        return Outcome("retrying", delivery.next_attempt_at, answer.status)


async def disable(session: AsyncSession, endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    """Stop an endpoint (failing for five days, or gone): its pending deliveries fail, its admins hear of it."""
    from webapp.integrations import notices

    if endpoint.status != "enabled":
        return
    endpoint.status, endpoint.disabled_reason, endpoint.disabled_at = "disabled", reason, now
    endpoint.version += 1
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending")
        .values(status="failed", finished_at=now, next_attempt_at=None, last_error="The endpoint was disabled.")
    )
    from webapp.core import audit

    await audit.record(
        session,
        None,
        "webhook_endpoint.disabled",
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        after={"reason": reason},
        organization_id=endpoint.organization_id,
    )
    await notices.endpoint_disabled(session, endpoint, reason)


async def due(maker: async_sessionmaker, now: datetime | None = None, limit: int = 500) -> list[tuple]:
    """(organization, delivery) pairs whose next attempt is due, oldest first (the minute sweep)."""
    now = now or datetime.now(UTC)
    async with maker() as session, session.begin():
        await enable_rls_bypass(session, reason="webhook delivery sweep")  # reads ids only, across organizations
        rows = (await session.execute(
            select(WebhookDelivery.organization_id, WebhookDelivery.id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at).limit(limit)
        )).all()  # fmt: skip
    return [tuple(r) for r in rows]


async def requeue(
    session: AsyncSession, org_id: uuid.UUID, deliveries: list[WebhookDelivery], now: datetime, trigger: str
) -> int:
    """Make finished deliveries pending again (replay, recover): a fresh schedule, delivered after commit."""
    for delivery in deliveries:
        delivery.status, delivery.finished_at, delivery.next_attempt_at = "pending", None, now
        delivery.attempts = 0
    enqueue_after_commit(session, org_id, [d.id for d in deliveries], trigger=trigger)
    return len(deliveries)
