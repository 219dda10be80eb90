"""Task shells for simulations: run one, and the reaper that rescues runs whose worker died."""

from __future__ import annotations

import uuid
from datetime import timedelta

from webapp.simulations.service import execution
from workers.broker import broker
from workers.uow import state, timed


@broker.task(task_name="simulations.run")
async def run_simulation(run_id: str, org_id: str) -> str | None:
    """Run one simulation (safe to deliver twice: the run's attempt number fences it)."""
    s = state()

    async def body():
        status = await execution.execute_run(
            s.sessionmaker,
            s.redis,
            s.settings.redis_namespace,
            uuid.UUID(org_id),
            uuid.UUID(run_id),
            stale=timedelta(seconds=s.settings.simulation_stale_seconds),
        )
        return str(status) if status else None

    return await timed("simulations.run", body)


@broker.task(task_name="simulations.reap", schedule=[{"cron": "* * * * *", "schedule_id": "simulations-reaper"}])
async def reap_stale_runs() -> int:
    """Re-queue runs whose heartbeat stopped; fail those that keep dying."""
    s = state()
    return await timed(
        "simulations.reap",
        lambda: execution.reap_stale_runs(
            s.sessionmaker,
            s.redis,
            s.settings.redis_namespace,
            enqueue_run,
            stale_seconds=s.settings.simulation_stale_seconds,
            max_attempts=s.settings.simulation_max_attempts,
        ),
    )


async def enqueue_run(run_id: str, org_id: str) -> None:
    """Send the run task (called after the run row is committed)."""
    await run_simulation.kiq(run_id, org_id)
