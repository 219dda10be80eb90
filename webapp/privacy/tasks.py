"""Task shells for privacy: carrying out verified requests, the sweep that hands out any a lost message or a lifted
hold left waiting, the daily retention run, and the morning list of overdue requests for staff."""

from __future__ import annotations

import uuid

from webapp.collaboration.storage import store_for
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import unit_of_work
from webapp.privacy import requests as privacy_requests
from webapp.privacy import retention
from webapp.privacy.processing import Processor, pending_requests
from workers.broker import broker
from workers.uow import state, timed


def processor() -> Processor:
    """The worker's processor (its sessionmaker, store and settings)."""
    s = state()
    return Processor(s.sessionmaker, store_for(s.settings), s.settings)


@broker.task(task_name="privacy.process_request")
async def process_request(request_id: str) -> str:
    """Export or erase for one verified request (safe to deliver twice: a finished request is left alone)."""
    outcome = await timed("privacy.process_request", lambda: processor().process(uuid.UUID(request_id)))
    return outcome.status.value


@broker.task(task_name="privacy.sweep_requests", schedule=[{"cron": "*/5 * * * *", "schedule_id": "privacy-sweep"}])
async def sweep_requests() -> int:
    """Process requests still waiting: the queue message was lost, a worker died, or a hold was lifted."""

    async def body():
        waiting = await pending_requests(state().sessionmaker)
        for request_id in waiting:
            await processor().process(request_id)
        return len(waiting)

    return await timed("privacy.sweep_requests", body)


@broker.task(
    task_name="privacy.enforce_retention", schedule=[{"cron": "25 2 * * *", "schedule_id": "privacy-retention"}]
)
async def enforce_retention() -> dict:
    """Delete what has passed its retention (daily)."""
    s = state()
    return await timed("privacy.enforce_retention", lambda: retention.enforce(s.sessionmaker, store_for(s.settings)))


async def enqueue_processing(request_id: str) -> None:
    """Send the processing task (called once the request's verification is committed)."""
    await process_request.kiq(request_id)


@broker.task(task_name="privacy.flag_overdue", schedule=[{"cron": "0 8 * * *", "schedule_id": "privacy-overdue"}])
async def flag_overdue() -> int:
    """Tell staff, every morning, which requests are past their due date."""
    s = state()

    async def body():
        async with unit_of_work(s.sessionmaker) as session:
            await enable_rls_bypass(session, reason="privacy: overdue requests to staff")
            return await privacy_requests.flag_overdue(session, s.settings.base_url)

    return await timed("privacy.flag_overdue", body)
