"""One Redis subscription per web process, fanned out to every SSE stream that wants a channel.

A stream per Redis connection does not scale (2,000 browsers would be 2,000 connections); here each process
holds one pub/sub connection, subscribes to a channel while at least one local stream listens, and copies each
message into the streams' bounded backlogs. A stream that falls behind, or a lost Redis, ends the stream: the
browser reconnects and re-reads the current state from Postgres, which is always the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque

from redis.exceptions import RedisError

log = logging.getLogger(__name__)
QUEUE_SIZE = 64
LOST = object()  # handed to a stream that must end (Redis lost, or the reader fell behind)
HEARTBEAT = object()  # handed to every idle stream once per heartbeat period (keeps proxies from closing it)
HEARTBEAT_SECONDS = 15.0


class Subscription:
    """One stream's view of one channel: a bounded backlog and, while the stream waits, one future to wake it.

    Not an asyncio.Queue read through wait_for: that costs a task and a timer per stream per message, which at
    2,000 streams was most of the fan-out time. Heartbeats come from one hub-wide ticker instead of timers.
    """

    __slots__ = ("hub", "channel", "backlog", "waiter")

    def __init__(self, hub: "Hub", channel: str):
        self.hub, self.channel = hub, channel
        self.backlog: deque = deque()
        self.waiter: asyncio.Future | None = None

    async def get(self):
        """The next message (a dict), HEARTBEAT when the stream should send a keep-alive, or LOST when it must end."""
        while not self.backlog:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.backlog.popleft()

    def offer(self, item) -> None:
        """Hand a message to this stream without waiting; a stream too far behind gets LOST instead (it resyncs)."""
        if len(self.backlog) >= QUEUE_SIZE:  # a slow reader must not hold up the others
            self.backlog.clear()
            item = LOST
        self.backlog.append(item)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def close(self) -> None:
        """Stop listening (unsubscribes the channel when this was its last local stream)."""
        await self.hub.release(self)


class Hub:
    """The process's shared pub/sub connection and the streams listening through it."""

    def __init__(self, redis, heartbeat: float = HEARTBEAT_SECONDS):
        self.redis, self.heartbeat = redis, heartbeat
        self.pubsub = None
        self.reader: asyncio.Task | None = None
        self.listeners: dict[str, set[Subscription]] = {}
        self.lock = asyncio.Lock()

    @property
    def stream_count(self) -> int:
        """Streams listening right now."""
        return sum(len(s) for s in self.listeners.values())

    async def subscribe(self, channel: str) -> Subscription:
        """Listen to `channel`; raises a Redis error when Redis is down (the caller answers without a stream)."""
        async with self.lock:
            if self.pubsub is None:
                self.pubsub = self.redis.pubsub()
            subscription = Subscription(self, channel)
            if channel not in self.listeners:
                await self.pubsub.subscribe(channel)
                self.listeners[channel] = set()
            self.listeners[channel].add(subscription)
            if self.reader is None or self.reader.done():
                self.reader = asyncio.create_task(self._read())
            return subscription

    async def release(self, subscription: Subscription) -> None:
        """Forget a stream; the last one on a channel unsubscribes it."""
        async with self.lock:
            listeners = self.listeners.get(subscription.channel)
            if not listeners or subscription not in listeners:
                return
            listeners.discard(subscription)
            if not listeners:
                del self.listeners[subscription.channel]
                if self.pubsub is not None:
                    with contextlib.suppress(RedisError, OSError):
                        await self.pubsub.unsubscribe(subscription.channel)

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        next_beat = loop.time() + self.heartbeat
        try:
            while self.listeners:
                message = await self.pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=min(1.0, self.heartbeat)
                )
                if loop.time() >= next_beat:
                    next_beat = loop.time() + self.heartbeat
                    self._beat()
                if message is None:
                    continue
                payload = json.loads(message["data"])
                for subscription in list(self.listeners.get(message["channel"], ())):
                    subscription.offer(payload)
        except (RedisError, OSError) as exc:
            log.warning("sse hub lost redis: %s", exc)
            await self._drop_all()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sse hub reader failed")
            await self._drop_all()

    def _beat(self) -> None:
        """Wake every idle stream to send a keep-alive (one pass here, instead of a timer per stream)."""
        for listeners in self.listeners.values():
            for subscription in listeners:
                if not subscription.backlog:
                    subscription.offer(HEARTBEAT)

    async def _drop_all(self) -> None:
        """End every stream and start afresh on the next subscribe."""
        async with self.lock:
            for listeners in self.listeners.values():
                for subscription in listeners:
                    subscription.offer(LOST)
            self.listeners.clear()
            pubsub, self.pubsub = self.pubsub, None
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()

    async def close(self) -> None:
        """Shut down with the app."""
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                await self.reader
        await self._drop_all()
