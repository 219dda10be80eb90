"""Redis client factory and JSON publish helpers for realtime progress."""

from __future__ import annotations

import json

import redis.asyncio as aioredis


def make_redis(url: str) -> aioredis.Redis:
    """An asyncio Redis client with a shared connection pool."""
    return aioredis.Redis.from_url(url, decode_responses=True, health_check_interval=30)


def channel(namespace: str, *parts: object) -> str:
    """Namespaced channel or key name, e.g. closedloop:ops:check:<id>."""
    return ":".join([namespace, *(str(p) for p in parts)])


async def publish_json(client: aioredis.Redis, name: str, payload: dict) -> None:
    """Publish a JSON message; subscribers that are gone simply miss it."""
    await client.publish(name, json.dumps(payload, default=str))
