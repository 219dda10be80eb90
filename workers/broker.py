"""The Taskiq broker: Redis streams with acknowledgement, so a crashed worker's task is redelivered."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator

from redis.asyncio import Redis
from redis.exceptions import RedisError
from taskiq import AckableMessage, BrokerMessage, TaskiqEvents
from taskiq_redis import RedisStreamBroker

from webapp.config import load_settings

settings = load_settings()


def queue_name(namespace: str) -> str:
    """Redis stream key of the task queue."""
    return f"{namespace}:tasks"


log = logging.getLogger(__name__)


class ResilientStreamBroker(RedisStreamBroker):
    """A stream broker whose listener outlives a Redis restart (taskiq-redis lets the error end the worker's
    receiver, and with it every task still running there). It waits, declares the consumer group again (an
    emptied Redis has lost it) and keeps reading; tasks lost with Redis are re-sent by our reapers. Sending keeps
    one client on the broker's pool (taskiq-redis builds a new one per message: a third of a webhook's intake)."""

    _sender: Redis | None = None

    async def kick(self, message: BrokerMessage) -> None:
        """XADD the message to its stream, through one long-lived client on a pool of its own (the broker's blocking
        pool waits for a free connection under asyncio.wait_for on every command: a tenth of a webhook's intake)."""
        if self._sender is None:
            self._sender = Redis.from_url(settings.redis_url or "redis://127.0.0.1:6379/0")
        await self._sender.xadd(
            message.labels.get("queue_name") or self.queue_name,
            {b"data": message.message},
            maxlen=self.maxlen,
            approximate=self.approximate,
        )

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        """Yield messages for ever, reconnecting after Redis errors."""
        while True:
            try:
                async for message in super().listen():
                    yield message
            except (RedisError, OSError) as exc:
                log.warning("task queue connection lost, retrying in 1 s: %s", exc)
                await asyncio.sleep(1)
                try:
                    await self._declare_consumer_group()
                except (RedisError, OSError):
                    pass


broker = ResilientStreamBroker(
    url=settings.redis_url or "redis://127.0.0.1:6379/0",
    queue_name=queue_name(settings.redis_namespace),
    consumer_group_name=f"{settings.redis_namespace}:workers",
    # above the longest task, or a running task is redelivered to a second worker (taskiq-redis#101)
    idle_timeout=settings.task_idle_timeout_seconds * 1000,
    # XACK never deletes entries: cap the stream
    maxlen=settings.queue_maxlen,
)

from workers import lifecycle  # noqa: E402  (registers startup/shutdown on the broker)

broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, lifecycle.startup)
broker.add_event_handler(TaskiqEvents.WORKER_SHUTDOWN, lifecycle.shutdown)
