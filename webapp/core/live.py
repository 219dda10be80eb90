"""Live streams on the process's pub/sub hub: subscribe (or stand in while Redis is down) and stream a channel."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from quart import current_app
from redis.exceptions import RedisError

from webapp.core.sse import format_event, relay, sse_response
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


class NewestState:
    """The newest job state a stream has sent, by (attempt, progress), which only grow while a job runs. A message
    published just before the stream read its first state arrives after it: it is older and dropped rather than
    moving the bar backwards. A final state always goes through."""

    def __init__(self, first: dict):
        self.seen = self._order(first)

    @staticmethod
    def _order(payload: dict) -> tuple[int, int]:
        return payload.get("attempt") or 0, payload.get("progress") or 0

    def admits(self, payload: dict) -> bool:
        """Whether `payload` is to be sent (and, if so, it becomes the newest)."""
        order = self._order(payload)
        if order < self.seen and not payload["finished"]:
            return False
        self.seen = max(self.seen, order)
        return True


async def stream_job(
    channel_name: str,
    read_state: Callable[[], Awaitable[dict]],
    frames: Callable[[dict], Awaitable[list[bytes]]],
):
    """SSE of one background job (state dicts with `finished`): the current state from Postgres first, then every
    published update until a final one. Subscribes before reading, so no update falls between the two."""
    subscription = await subscribe(channel_name)
    try:
        state = await read_state()
    except Exception:
        await subscription.close()
        raise
    await end_request_transaction(200)  # no DB session is held while streaming
    newest = NewestState(state)

    async def on_message(payload: dict) -> tuple[list[bytes], bool]:
        if not newest.admits(payload):
            return [], False
        return await frames(payload), payload["finished"]

    return sse_response(relay(subscription, await frames(state), on_message, finished=state["finished"]))


def progress_frames(template, event_id: Callable[[dict], str], **context):
    """Frames of a job's progress fragment: `progress` (HTML), `state` (JSON), and `done` once final."""

    async def frames(payload: dict) -> list[bytes]:
        html = await template.render_async(state=payload, **context)
        out = [format_event(html, event="progress", event_id=event_id(payload))]
        out.append(format_event(json.dumps({k: v for k, v in payload.items() if not k.startswith("_")}), event="state"))
        if payload["finished"]:
            out.append(format_event("done", event="done"))
        return out

    return frames
