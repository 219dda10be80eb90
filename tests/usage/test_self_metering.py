"""ClosedLoop meters itself: requests with an API key are counted in Redis and flushed into usage events once (a
flush that died after claiming its counters is finished by the next one, with the same keys); storage and seats are
measured once a day."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import text

from tests.helpers import api_key_headers
from webapp.usage import self_metering


async def _metered(owner_engine, org_id, code: str) -> list[tuple]:
    async with owner_engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT quantity, properties FROM usage_metered_usage WHERE organization_id = :o AND metric_code = :c "
                "ORDER BY received_at"
            ),
            {"o": org_id, "c": code},
        )
        return [tuple(r) for r in rows]


async def test_api_calls_are_counted_in_redis_and_flushed_once(app, client, factory, maker, owner_engine):
    state = app.extensions["closedloop"]
    redis, namespace = state["redis"], state["settings"].redis_namespace
    owner = await factory.org_with_owner()
    key = await api_key_headers(client, owner, ["org:read", "missions:read"])
    for _ in range(3):
        assert (await client.get(f"/api/v1/organizations/{owner.org_id}/missions", headers=key)).status_code == 200
    await client.get(f"/o/{owner.org_slug}/missions")  # a browser session's request is not an API call

    # (the live stack's scheduler flushes the same counters every minute: totals, not rows, are what must hold)
    await self_metering.flush_api_calls(maker, redis, namespace)
    metered = await _metered(owner_engine, owner.org_id, "api_calls")
    assert sum(q for q, _ in metered) == 3 and all(set(p) == {"api_key_id"} for _, p in metered)
    await self_metering.flush_api_calls(maker, redis, namespace)
    assert sum(q for q, _ in await _metered(owner_engine, owner.org_id, "api_calls")) == 3  # nothing twice

    # a flush that claimed a counter and died before committing: the next one finishes it, once
    await client.get(f"/api/v1/organizations/{owner.org_id}/missions", headers=key)
    async for name in redis.scan_iter(match=f"{namespace}:usage:api_calls:*"):
        if ":claim:" not in name:
            await redis.rename(name, f"{name}:claim:crashed")
    await self_metering.flush_api_calls(maker, redis, namespace)
    await self_metering.flush_api_calls(maker, redis, namespace)
    assert sum(q for q, _ in await _metered(owner_engine, owner.org_id, "api_calls")) == 4


async def test_storage_and_seats_are_measured_once_a_day(factory, maker, owner_engine):
    owner = await factory.org_with_owner()
    await factory.member(owner)
    assert await self_metering.measure_daily(maker) >= 2
    await self_metering.measure_daily(maker)  # the same day again: keyed by the date, nothing more
    assert [q for q, _ in await _metered(owner_engine, owner.org_id, "seat_days")] == [Decimal(2)]
    assert [q for q, _ in await _metered(owner_engine, owner.org_id, "storage_gb")] == [Decimal(0)]
