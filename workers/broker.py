"""The Taskiq broker: Redis streams with acknowledgement, so a crashed worker's task is redelivered."""
from __future__ import annotations

from taskiq import TaskiqEvents
from taskiq_redis import RedisStreamBroker

from webapp.settings import load_settings

settings = load_settings()


def queue_name(namespace: str) -> str:
    """Redis stream key of the task queue."""
    return f"{namespace}:tasks"


broker = RedisStreamBroker(
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
