"""Task shells for ops: run a system check, scheduler tick, reaper, partition upkeep."""

from __future__ import annotations

import time
import uuid

from webapp.ops import service
from webapp.ops.probes import scheduler_tick_key
from workers.broker import broker, queue_name
from workers.uow import state, timed


@broker.task(task_name="ops.run_system_check")
async def run_system_check(check_id: str, org_id: str) -> str | None:
    """Run one system check (safe to deliver twice: the row's attempt number fences it)."""
    s = state()

    async def body():
        status = await service.run_check(
            s.sessionmaker,
            s.redis,
            namespace=s.settings.redis_namespace,
            queue_name=queue_name(s.settings.redis_namespace),
            org_id=uuid.UUID(org_id),
            check_id=uuid.UUID(check_id),
        )
        return str(status) if status else None

    return await timed("ops.run_system_check", body)


@broker.task(task_name="ops.scheduler_tick", schedule=[{"interval": 15, "schedule_id": "ops-scheduler-tick"}])
async def scheduler_tick() -> None:
    """Proof of life for the scheduler (and the worker that runs it)."""
    s = state()
    await s.redis.set(scheduler_tick_key(s.settings.redis_namespace), str(time.time()), ex=3600)


@broker.task(task_name="ops.reap_abandoned_checks", schedule=[{"cron": "* * * * *", "schedule_id": "ops-reaper"}])
async def reap_abandoned_checks() -> int:
    """Fail checks whose worker died."""
    s = state()
    return await timed(
        "ops.reap_abandoned_checks",
        lambda: service.reap_abandoned_checks(s.sessionmaker, s.redis, s.settings.redis_namespace),
    )


@broker.task(task_name="ops.ensure_partitions", schedule=[{"cron": "17 3 * * *", "schedule_id": "ops-partitions"}])
async def ensure_partitions() -> int:
    """Keep three months of partitions ahead (audit log, security events, usage events)."""
    return await timed("ops.ensure_partitions", lambda: service.ensure_partitions(state().sessionmaker))


async def enqueue_system_check(check_id: str, org_id: str) -> None:
    """Send the run task (called after the check row is committed)."""
    await run_system_check.kiq(check_id, org_id)
