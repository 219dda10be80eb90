"""Live streams of runs (SSE): current state from Postgres first, then every published change until final."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable

from quart import current_app, g

from webapp.core.live import NewestState, stream_channel, subscribe
from webapp.core.sse import format_event, relay, sse_response
from webapp.core.transaction import db_session, end_request_transaction
from webapp.simulations import queries
from webapp.simulations.events import mission_runs_channel, org_runs_channel, run_channel, run_payload


def _state():
    return current_app.extensions["closedloop"]


async def stream_run(run_id: uuid.UUID, frames: Callable[[dict], Awaitable[list[bytes]]]):
    """SSE of one run; `frames` turns a state into events (HTML fragments or JSON)."""
    settings = _state()["settings"]
    # subscribe before reading the row, so no update can fall between the read and the subscription
    subscription = await subscribe(run_channel(settings.redis_namespace, run_id))
    try:
        state = run_payload(await queries.get_run_state(db_session(), g.ctx.org_id, run_id))
    except Exception:
        await subscription.close()
        raise
    await end_request_transaction(200)  # no DB session is held while streaming
    newest = NewestState(state)

    async def on_message(payload: dict) -> tuple[list[bytes], bool]:
        if not newest.admits(payload):
            return [], False
        return await shared_frames(frames, payload), payload["finished"]

    return sse_response(relay(subscription, await frames(state), on_message, finished=state["finished"]))


async def stream_mission_runs(mission_id: uuid.UUID, frames: Callable[[dict], Awaitable[list[bytes]]]):
    """SSE of a mission's run list: one event per run change, for as long as the page is open."""
    return await stream_channel(mission_runs_channel(_state()["settings"].redis_namespace, mission_id), frames)


async def stream_org_runs(org_id: uuid.UUID, frames: Callable[[dict], Awaitable[list[bytes]]]):
    """SSE of the organization's run lists (the Simulations page, the overview): one event per run change."""
    return await stream_channel(org_runs_channel(_state()["settings"].redis_namespace, org_id), frames)


async def shared_frames(frames: Callable[[dict], Awaitable[list[bytes]]], payload: dict) -> list[bytes]:
    """Render a published message once for every stream of this process that shows it the same way: the hub hands
    the same dict to all of a channel's streams, so the frames are kept on it (2,000 watchers, one rendering)."""
    cache = payload.setdefault("_frames", {})
    key = frames.__qualname__
    if key not in cache:
        cache[key] = await frames(payload)
    return cache[key]


async def json_frames(state: dict) -> list[bytes]:
    """JSON clients: one `state` event per change, `done` at the end."""
    public = {k: v for k, v in state.items() if not k.startswith("_")}  # not the shared-rendering cache
    out = [format_event(json.dumps(public), event="state", event_id=f"{state['attempt']}-{state['progress']}")]
    if state["finished"]:
        out.append(format_event("done", event="done"))
    return out
