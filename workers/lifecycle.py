"""Worker process start-up and shut-down: engine, Redis, the liveness heartbeat."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from taskiq import TaskiqState

from webapp.config import load_settings
from webapp.core.db import make_engine, make_sessionmaker
from webapp.core.logging import configure_logging
from webapp.core.pubsub import make_redis
from webapp.ops.probes import heartbeat_worker

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 5


async def _heartbeat_loop(state: TaskiqState) -> None:
    while True:
        try:
            await heartbeat_worker(state.redis, state.settings.redis_namespace)
        except Exception:
            log.exception("worker heartbeat failed")
        await asyncio.sleep(HEARTBEAT_SECONDS)


async def startup(state: TaskiqState) -> None:
    """Open the database engine and Redis for this worker process and start heartbeating."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_json)
    state.settings = settings
    state.engine = make_engine(
        settings.database_url,
        settings.app_db_role,
        pool_size=5,
        max_overflow=5,
        idle_transaction_seconds=settings.db_idle_transaction_seconds,
    )
    state.sessionmaker = make_sessionmaker(state.engine)
    state.redis = make_redis(settings.redis_url)
    state.heartbeat = asyncio.create_task(_heartbeat_loop(state))
    log.info("worker started")


async def shutdown(state: TaskiqState) -> None:
    """Stop heartbeating and close connections."""
    task = getattr(state, "heartbeat", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if getattr(state, "redis", None) is not None:
        await state.redis.aclose()
    if getattr(state, "engine", None) is not None:
        await state.engine.dispose()
