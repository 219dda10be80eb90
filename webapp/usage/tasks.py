"""Task shells for usage: rollup and API call counts every minute; plan credits and period closes hourly;
storage, seats and retention daily."""

from __future__ import annotations

from webapp.usage import grants, overages, retention, rollup, self_metering
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


@broker.task(task_name="usage.renew_credits", schedule=[{"cron": "7 * * * *", "schedule_id": "usage-renew-credits"}])
async def renew_credits() -> int:
    """Hourly: grant each organization whose month turned its plan's credits (last month's leftovers expire)."""
    return await timed("usage.renew_credits", lambda: grants.renew_due(state().sessionmaker))


@broker.task(task_name="usage.close_periods", schedule=[{"cron": "13 * * * *", "schedule_id": "usage-close-periods"}])
async def close_periods() -> int:
    """Hourly: close the billing periods that ended `usage.late_days` ago into overage fees and invoices."""
    return await timed("usage.close_periods", lambda: overages.close_due(state().sessionmaker))


@broker.task(task_name="usage.flush_api_calls", schedule=[{"cron": "* * * * *", "schedule_id": "usage-api-calls"}])
async def flush_api_calls() -> int:
    """Every minute: the API call counters (Redis) become usage events."""
    s = state()
    return await timed(
        "usage.flush_api_calls",
        lambda: self_metering.flush_api_calls(s.sessionmaker, s.redis, s.settings.redis_namespace),
    )


@broker.task(task_name="usage.measure_daily", schedule=[{"cron": "30 0 * * *", "schedule_id": "usage-daily"}])
async def measure_daily() -> int:
    """Daily: each organization's stored gigabytes and its seats as usage events."""
    return await timed("usage.measure_daily", lambda: self_metering.measure_daily(state().sessionmaker))
