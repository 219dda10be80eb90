"""Task-side helpers: the worker's state and timing of task bodies for /metrics."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from webapp.ops.metrics import Stopwatch, record_job_duration
from workers.broker import broker

log = logging.getLogger(__name__)
T = TypeVar("T")


def state():
    """The worker process's state (engine, sessionmaker, redis, settings)."""
    return broker.state


async def timed(task_name: str, body: Callable[[], Awaitable[T]]) -> T:
    """Run a task body, recording its duration and outcome in the shared job histogram."""
    watch = Stopwatch()
    ok = False
    try:
        result = await body()
        ok = True
        return result
    finally:
        try:
            await record_job_duration(state().redis, state().settings.redis_namespace, task_name, watch.elapsed, ok)
        except Exception:
            log.exception("could not record job duration")
