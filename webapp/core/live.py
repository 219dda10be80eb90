"""Live streams on the process's pub/sub hub: subscribe (or stand in while Redis is down) and stream a channel."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from quart import current_app
from redis.exceptions import RedisError

from webapp.core.sse import relay, sse_response
from webapp.core.transaction import end_request_transaction


def _state():
    return current_app.extensions["closedloop"]


def realtime():
    """This process's Redis client and key namespace (what services that publish need)."""
    state = _state()
    return state["redis"], state["settings"].redis_namespace


class Unavailable:
    """Stands in for a subscription while Redis is down: the stream sends the current state, then `retry:`."""

    async def get(self):
        from webapp.core.broadcast import LOST

        return LOST

    async def close(self) -> None:
        return None


async def subscribe(channel_name: str):
    """A hub subscription to `channel_name`, or Unavailable when Redis is down."""
    try:
        return await _state()["hub"].subscribe(channel_name)
    except (RedisError, OSError):
        return Unavailable()


async def stream_channel(channel_name: str, frames: Callable[[dict], Awaitable[list[bytes]]]):
    """SSE of every message on a channel for as long as the page is open; the request's DB session ends first."""
    subscription = await subscribe(channel_name)
    await end_request_transaction(200)

    async def on_message(payload: dict) -> tuple[list[bytes], bool]:
        return await frames(payload), False

    return sse_response(relay(subscription, [b": subscribed\n\n"], on_message))
