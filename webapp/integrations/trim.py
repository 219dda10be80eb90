"""The delivery log's lifetime: messages are kept LOG_KEPT (30 days, as Svix keeps payloads by default), then go
with their deliveries and attempts — never while one of their deliveries is still pending. The app may only
append messages and attempts, so they go through the owner function webhooks_trim_log (migration 0031)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import unit_of_work

log = logging.getLogger(__name__)

LOG_KEPT = timedelta(days=30)
BATCH = 2_000
_TRIM = text("SELECT webhooks_trim_log(:older_than, :batch)")


async def trim_log(maker: async_sessionmaker, now: datetime | None = None) -> int:
    """Delete every message older than LOG_KEPT with nothing left to send, a batch per transaction; how many."""
    older_than = (now or datetime.now(UTC)) - LOG_KEPT
    total = 0
    while True:
        async with unit_of_work(maker) as session:
            await enable_rls_bypass(session, reason="webhook log retention")  # every organization's old messages
            done = (await session.execute(_TRIM, {"older_than": older_than, "batch": BATCH})).scalar_one()
        total += done
        if done < BATCH:
            break
    if total:
        log.info("webhook log trimmed: %d messages older than %s", total, older_than.isoformat())
    return total
