"""Task shells for outgoing webhooks: deliver one (and, when its next try is seconds away, that try too), and the
minute sweep that sends every due retry and anything a lost task left behind (following its short retries the same
way); daily, the log's old messages go."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from webapp.integrations import delivery, trim
from workers.broker import broker
from workers.uow import state, timed

SHORT_WAIT_SECONDS = 10  # a retry this close is waited for here (the schedule's 5 s); later ones go to the sweep
# the event loop's monotonic clock may wake us a hair before the wall clock reaches the retry time; the attempt
# would then find the delivery not yet due, skip it, and leave the retry to the next minute's sweep
CLOCK_MARGIN_SECONDS = 0.05


async def _deliver(
    org_id: uuid.UUID, delivery_id: uuid.UUID, trigger: str, gate: asyncio.Semaphore | None = None
) -> str:
    """Attempt, then wait for and make each retry that falls within seconds. Whoever wins the first attempt — the
    queued task or a sweep that found the delivery due at the same moment (the loser skips) — owns its short retries,
    so a sweep-won attempt is not left for the next minute. The gate bounds attempts in flight, not the waits."""
    s = state()
    gate = gate or asyncio.Semaphore(1)
    async with gate:
        outcome = await delivery.attempt(s.sessionmaker, s.settings, org_id, delivery_id, trigger=trigger)
    while outcome.status == "retrying":
        wait = (outcome.next_attempt_at - datetime.now(UTC)).total_seconds()
        if wait > SHORT_WAIT_SECONDS:
            break
        await asyncio.sleep(max(0.0, wait) + CLOCK_MARGIN_SECONDS)
        async with gate:
            outcome = await delivery.attempt(s.sessionmaker, s.settings, org_id, delivery_id)
    return outcome.status


@broker.task(task_name="webhooks.deliver")
async def deliver(org_id: str, delivery_id: str, trigger: str = "schedule") -> str:
    """Attempt one delivery now (idempotent: a delivery not due, or taken by another worker, is skipped)."""
    return await timed("webhooks.deliver", lambda: _deliver(uuid.UUID(org_id), uuid.UUID(delivery_id), trigger))


@broker.task(task_name="webhooks.deliver_due", schedule=[{"cron": "* * * * *", "schedule_id": "webhooks-due"}])
async def deliver_due() -> int:
    """Every minute: attempt each delivery whose retry is due, a few at a time."""
    s = state()

    async def body() -> int:
        found = await delivery.due(s.sessionmaker)
        gate = asyncio.Semaphore(8)  # a few attempts at a time; one slow receiver must not hold up the rest
        await asyncio.gather(*(_deliver(o, d, "schedule", gate) for o, d in found))
        return len(found)

    return await timed("webhooks.deliver_due", body)


@broker.task(task_name="webhooks.trim_log", schedule=[{"cron": "50 3 * * *", "schedule_id": "webhooks-trim-log"}])
async def trim_log() -> int:
    """Daily: delete messages (with their deliveries and attempts) older than 30 days with nothing left to send."""
    s = state()
    return await timed("webhooks.trim_log", lambda: trim.trim_log(s.sessionmaker))
