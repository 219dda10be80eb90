"""Task shells for usage: the rollup every minute, and the retention of raw events once a day."""

from __future__ import annotations

from webapp.usage import retention, rollup
from workers.broker import broker
from workers.uow import state, timed


@broker.task(task_name="usage.roll_up", schedule=[{"cron": "* * * * *", "schedule_id": "usage-rollup"}])
async def roll_up() -> int:
    """Every minute: recompute the hours (and their days) that new or late events made stale."""
    return await timed("usage.roll_up", lambda: rollup.roll_up(state().sessionmaker))


@broker.task(task_name="usage.retention", schedule=[{"cron": "23 3 * * *", "schedule_id": "usage-retention"}])
async def detach_old_events() -> int:
    """Daily: detach the monthly partitions of raw events older than `usage.retention_months`."""
    return await timed("usage.retention", lambda: retention.detach_old_events(state().sessionmaker))
