"""Task shells for billing: apply a provider event, sweep the ones waiting for a retry, and the sandbox's
webhook deliveries."""

from __future__ import annotations

import uuid

from webapp.billing import processing, reconcile, sandbox, seats
from webapp.core.transaction import after_commit
from workers.broker import broker
from workers.uow import state, timed


@broker.task(task_name="billing.process_event")
async def process_event(event_id: str) -> str | None:
    """Apply one stored provider event (idempotent: a processed one is left alone)."""
    s = state()
    outcome = await timed(
        "billing.process_event", lambda: processing.process_event(s.sessionmaker, uuid.UUID(event_id))
    )
    return str(outcome) if outcome else None


async def enqueue_event(event_id: str) -> None:
    """Queue an event for the worker (the intake calls it after commit)."""
    await process_event.kiq(event_id)


@broker.task(task_name="billing.retry_events", schedule=[{"cron": "* * * * *", "schedule_id": "billing-events-retry"}])
async def retry_events() -> int:
    """Every minute: events that failed, or were stored but never picked up, go round again (up to 8 attempts)."""
    s = state()

    async def body() -> int:
        due = await processing.due_for_retry(s.sessionmaker)
        for event_id in due:
            await processing.process_event(s.sessionmaker, event_id)
        return len(due)

    return await timed("billing.retry_events", body)


@broker.task(task_name="billing.sandbox_deliver")
async def sandbox_deliver(event: dict) -> int:
    """The sandbox provider POSTs one signed event to the app's webhook endpoint."""
    s = state()
    secret = s.settings.webhook_secrets("sandbox")[0]
    return await timed("billing.sandbox_deliver", lambda: sandbox.deliver(s.settings.base_url, secret, event))


def deliver_after_commit(session, events: list[dict]) -> None:
    """Queue the sandbox's deliveries of `events`, in order, once the request's transaction has committed."""

    async def send() -> None:
        for event in events:
            await sandbox_deliver.kiq(event)

    after_commit(session, send)


@broker.task(task_name="billing.sync_seats")
async def sync_seats(org_id: str) -> int:
    """Set the organization's paid seats (ours and the provider's) to what its people need; the seats."""
    s = state()

    async def body() -> int:
        done = await seats.sync(s.sessionmaker, uuid.UUID(org_id), s.settings)
        for event in done.events:
            await sandbox_deliver.kiq(event)
        return done.wanted

    return await timed("billing.sync_seats", body)


def sync_seats_after_commit(session, org_id) -> None:
    """Queue a seat sync of the organization once the request's transaction has committed."""
    after_commit(session, lambda: sync_seats.kiq(str(org_id)))


@broker.task(task_name="billing.seat_drift", schedule=[{"cron": "17 * * * *", "schedule_id": "billing-seat-drift"}])
async def seat_drift() -> int:
    """Hourly: organizations whose seats drifted from their people or the provider get a seat sync."""
    s = state()

    async def body() -> int:
        found = await seats.drifted(s.sessionmaker)
        for org_id in found:
            await sync_seats.kiq(str(org_id))
        return len(found)

    return await timed("billing.seat_drift", body)


@broker.task(
    task_name="billing.sandbox_cycle", schedule=[{"cron": "* * * * *", "schedule_id": "billing-sandbox-cycle"}]
)
async def sandbox_cycle() -> int:
    """Every minute: the sandbox provider ends or renews its subscriptions whose period is over."""
    s = state()

    async def body() -> int:
        events = await sandbox.cycle(s.sessionmaker)
        for event in events:
            await sandbox_deliver.kiq(event)
        return len(events)

    return await timed("billing.sandbox_cycle", body)


@broker.task(task_name="billing.reconcile", schedule=[{"cron": "40 3 * * *", "schedule_id": "billing-reconcile"}])
async def reconcile_subscriptions() -> dict:
    """Daily: every provider-backed subscription fetched from its provider and applied like an event."""
    s = state()
    return await timed("billing.reconcile", lambda: reconcile.reconcile(s.sessionmaker, s.settings))
