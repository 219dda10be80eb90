"""Task shells for search: run a re-index job, and the reaper that re-sends abandoned ones."""

from __future__ import annotations

import uuid

from webapp.search import jobs
from workers.broker import broker
from workers.uow import state, timed


@broker.task(task_name="search.reindex")
async def reindex(job_id: str, org_id: str) -> str | None:
    """Run one re-index job (safe to deliver twice: the job's attempt number fences it)."""
    s = state()

    async def body():
        status = await jobs.run_reindex(
            s.sessionmaker,
            s.redis,
            s.settings.redis_namespace,
            uuid.UUID(job_id),
            uuid.UUID(org_id) if org_id else None,
        )
        return str(status) if status else None

    return await timed("search.reindex", body)


@broker.task(task_name="search.reap_reindex_jobs", schedule=[{"cron": "* * * * *", "schedule_id": "search-reaper"}])
async def reap_reindex_jobs() -> int:
    """Re-send re-index jobs whose worker died or never started them."""
    s = state()
    return await timed(
        "search.reap_reindex_jobs",
        lambda: jobs.reap_reindex_jobs(s.sessionmaker, s.redis, s.settings.redis_namespace, enqueue_reindex),
    )


async def enqueue_reindex(job_id: str, org_id: str) -> None:
    """Send the job's task (after its row is committed)."""
    await reindex.kiq(job_id, org_id)
