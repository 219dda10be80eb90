"""Pub/sub channel and payload of re-index jobs."""

from __future__ import annotations

from webapp.core.pubsub import channel


def job_channel(namespace: str, job_id: object) -> str:
    """Channel carrying one re-index job's progress."""
    return channel(namespace, "search", "reindex", job_id)


def job_payload(job) -> dict:
    """The state a subscriber needs to redraw the progress bar."""
    return {
        "id": str(job.id),
        "status": str(job.status),
        "progress": job.progress,
        "done": job.done,
        "total": job.total,
        "rows": job.rows,
        "entity_type": job.entity_type,
        "error": job.error,
        "attempt": job.attempt,
        "finished": job.status.is_final,
    }
