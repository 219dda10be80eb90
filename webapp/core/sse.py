"""Server-sent events: framing and a stream that holds no DB session, heartbeats and cleans up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from quart import Response

log = logging.getLogger(__name__)

# streams this process holds open right now (exposed on /metrics; a leak shows as a number that only grows)
open_streams = 0


def format_event(data: str, event: str | None = None, event_id: str | None = None) -> bytes:
    """Frame one SSE message; multi-line data becomes several data: lines."""
    lines = []
    if event_id:
        lines.append(f"id: {event_id}")
    if event:
        lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in data.splitlines() or [""])
    return ("\n".join(lines) + "\n\n").encode()


async def relay(
    subscription,
    initial: list[bytes],
    on_message: Callable[[dict], Awaitable[tuple[list[bytes], bool]]],
    *,
    finished: bool = False,
) -> AsyncIterator[bytes]:
    """Send `initial` (the current state), then translate the hub's messages until one is final or the client
    leaves; when the hub lost Redis (or this stream fell behind) end with `retry:` so the browser reconnects."""
    from webapp.core.broadcast import HEARTBEAT, LOST

    global open_streams
    open_streams += 1
    try:
        for chunk in initial:
            yield chunk
        if finished:
            return
        while True:
            message = await subscription.get()
            if message is HEARTBEAT:
                yield b": heartbeat\n\n"
                continue
            if message is LOST:
                yield b"retry: 2000\n\n"
                return
            chunks, done = await on_message(message)
            for chunk in chunks:
                yield chunk
            if done:
                return
    except asyncio.CancelledError:
        log.debug("sse client disconnected")
        raise
    finally:
        open_streams -= 1
        await subscription.close()


def sse_response(body: AsyncIterator[bytes]) -> Response:
    """A streaming response with the headers SSE and proxies need and no Quart timeout."""
    response = Response(body, content_type="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    response.timeout = None
    return response
