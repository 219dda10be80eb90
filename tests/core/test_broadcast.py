"""The SSE hub on real Redis: one subscription per process fans every message out to each listening stream, idle
streams get heartbeats, a stream that falls behind is ended (LOST) without holding up the others, and the last
stream to leave a channel unsubscribes it."""

from __future__ import annotations

import asyncio
import json
import uuid

import redis.asyncio as aioredis

from webapp.core import broadcast
from webapp.core.broadcast import HEARTBEAT, LOST, Hub
from webapp.core.pubsub import make_redis


async def _numsub(redis, channel: str) -> int:
    return dict(await redis.pubsub_numsub(channel)).get(channel, 0)


async def _settled_numsub(redis, channel: str, expected: int) -> int:
    """Subscribers once Redis has handled the UNSUBSCRIBE the hub sent on its own connection (a command on another
    connection can overtake it)."""
    for _ in range(100):
        count = await _numsub(redis, channel)
        if count == expected:
            return count
        await asyncio.sleep(0.02)
    return count


async def _next(subscription, timeout: float = 5.0):
    return await asyncio.wait_for(subscription.get(), timeout)


async def test_every_stream_gets_every_message_and_the_last_to_leave_unsubscribes(settings):
    redis = make_redis(settings.redis_url)
    hub = Hub(redis)
    channel = f"test:hub:{uuid.uuid4()}"
    try:
        streams = [await hub.subscribe(channel) for _ in range(50)]
        assert hub.stream_count == 50 and await _numsub(redis, channel) == 1  # one Redis subscription for all
        for n in (1, 2):
            await redis.publish(channel, json.dumps({"n": n}))
        for stream in streams:
            assert [(await _next(stream))["n"], (await _next(stream))["n"]] == [1, 2]
        for stream in streams[:-1]:
            await stream.close()
        assert await _numsub(redis, channel) == 1  # one stream still listens
        await streams[-1].close()
        assert hub.stream_count == 0 and await _settled_numsub(redis, channel, 0) == 0
    finally:
        await hub.close()
        await redis.aclose()


async def test_idle_streams_get_heartbeats(settings):
    redis = make_redis(settings.redis_url)
    hub = Hub(redis, heartbeat=0.2)
    try:
        stream = await hub.subscribe(f"test:hub:{uuid.uuid4()}")
        assert await _next(stream, 3) is HEARTBEAT
        assert await _next(stream, 3) is HEARTBEAT
        await stream.close()
    finally:
        await hub.close()
        await redis.aclose()


async def test_a_stream_that_falls_behind_is_ended_and_the_others_keep_receiving(settings):
    redis = make_redis(settings.redis_url)
    hub = Hub(redis)
    channel = f"test:hub:{uuid.uuid4()}"
    try:
        slow, live = await hub.subscribe(channel), await hub.subscribe(channel)
        total = broadcast.QUEUE_SIZE + 5
        received = []

        async def read_live():
            while len(received) < total:
                received.append((await _next(live))["n"])

        reader = asyncio.create_task(read_live())
        for n in range(total):
            await redis.publish(channel, json.dumps({"n": n}))
        await asyncio.wait_for(reader, 10)
        assert received == list(range(total))  # never blocked by the stream that does not read
        # the slow stream's backlog was dropped for LOST once full; what came after LOST is still delivered
        first = await _next(slow)
        assert first is LOST
        await slow.close()
        await live.close()
    finally:
        await hub.close()
        await redis.aclose()


async def test_losing_the_redis_connection_ends_every_stream(settings):
    """A dropped connection may have lost messages (a final one among them): the streams must end and resync."""
    name = f"hub-test-{uuid.uuid4().hex[:12]}"
    redis = aioredis.Redis.from_url(settings.redis_url, decode_responses=True, client_name=name)
    hub = Hub(redis)
    try:
        streams = [await hub.subscribe(f"test:hub:{uuid.uuid4()}") for _ in range(3)]
        ours = [c["id"] for c in await redis.client_list(_type="pubsub") if c["name"] == name]
        assert len(ours) == 1 and await redis.client_kill_filter(_id=ours[0]) == 1
        for stream in streams:
            assert await _next(stream) is LOST
        assert hub.stream_count == 0
        again = await hub.subscribe(f"test:hub:{uuid.uuid4()}")  # the next stream starts afresh
        await redis.publish(again.channel, json.dumps({"n": 1}))
        assert (await _next(again))["n"] == 1
        await again.close()
    finally:
        await hub.close()
        await redis.aclose()
