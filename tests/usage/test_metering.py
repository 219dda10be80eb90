"""Recording usage: only the internal credential gets in; each event of a batch stands alone (bad ones named by
index, good ones stored); a repeated `transaction_id` is accepted and ignored, even when it names another month;
events are append-only at the database; old partitions are detached; and the rollups equal a direct aggregate over
the raw events after random late arrivals, however often they run."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import csrf_from
from tests.helpers import api_key_headers
from webapp.usage import retention, rollup

RECORD = "/internal/usage/record"


def _internal(settings) -> dict:
    return {"Authorization": f"Bearer {settings.internal_tokens('usage')[0]}"}


def _event(org_id, tx: str, when: datetime, code: str = "simulation_runs", quantity=1, **properties) -> dict:
    return {
        "transaction_id": tx, "organization_id": str(org_id), "code": code, "quantity": quantity,
        "timestamp": when.isoformat(), "properties": properties,
    }  # fmt: skip


async def _stored(owner_engine, org_id) -> list[tuple]:
    async with owner_engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT transaction_id, metric_code, quantity FROM usage_metered_usage "
                "WHERE organization_id = :o ORDER BY transaction_id"
            ),
            {"o": org_id},
        )
        return [tuple(r) for r in rows]


async def test_only_the_internal_usage_credential_records_usage(client, factory, settings, owner_engine):
    owner = await factory.org_with_owner(plan="free")
    batch = {"events": [_event(owner.org_id, "auth-1", datetime.now(UTC))]}
    key = await api_key_headers(client, owner, ["billing:read", "billing:manage"])  # this signs the client in too
    csrf = csrf_from(await (await client.get("/me")).get_data(as_text=True))
    refused = [
        await client.post(RECORD, json=batch),  # the owner's session cookie alone
        await client.post(RECORD, json=batch, headers={"X-CSRF-Token": csrf}),
        await client.post(RECORD, json=batch, headers=key),  # a tenant API key
        await client.post(RECORD, json=batch, headers={"Authorization": "Bearer cl_int_" + "0" * 40}),
        await client.post(RECORD, json=batch, headers={"Authorization": settings.internal_tokens("usage")[0]}),
    ]
    assert [r.status_code for r in refused] == [401] * 5
    assert (await refused[2].get_json())["error"] == "Unauthorized"
    assert await _stored(owner_engine, owner.org_id) == []

    answer = await client.post(RECORD, json=batch, headers=_internal(settings))
    assert answer.status_code == 200, await answer.get_json()
    assert await _stored(owner_engine, owner.org_id) == [("auth-1", "simulation_runs", Decimal(1))]


async def test_each_event_stands_alone_and_a_repeat_is_ignored(client, factory, settings, owner_engine):
    owner = await factory.org_with_owner(plan="free")
    other = await factory.org_with_owner(plan="free")
    now = datetime.now(UTC)
    events = [
        _event(owner.org_id, "run-1", now),
        _event(owner.org_id, "run-1", now - timedelta(minutes=5)),  # the same key twice in one batch: one counts
        _event(owner.org_id, "bad-code", now, code="teleports"),
        _event(uuid.uuid4(), "no-org", now),
        _event(owner.org_id, "too-old", now - timedelta(days=30)),
        _event(owner.org_id, "future", now + timedelta(hours=2)),
        dict(_event(owner.org_id, "wrong-type", now), quantity=[1]),
        dict(_event(owner.org_id, "negative", now), quantity=-2),
        "not an event",
        _event(owner.org_id, "cpu", now, code="engine_cpu_seconds", quantity="12.5"),
        _event(other.org_id, "run-1", now),  # keys are per organization
        _event(owner.org_id, "user-a", now, code="active_users", user_id="a"),
    ]
    answer = await client.post(RECORD, json={"events": events}, headers=_internal(settings))
    assert answer.status_code == 200
    body = await answer.get_json()
    assert (body["received"], body["stored"], body["duplicates"]) == (12, 4, 1)
    rejected = {r["index"]: r for r in body["rejected"]}
    assert sorted(rejected) == [2, 3, 4, 5, 6, 7, 8]
    assert "code" in rejected[2]["fields"] and rejected[2]["transaction_id"] == "bad-code"
    assert "organization_id" in rejected[3]["fields"]
    assert "timestamp" in rejected[4]["fields"] and "timestamp" in rejected[5]["fields"]
    assert "quantity" in rejected[6]["fields"] and "quantity" in rejected[7]["fields"]
    assert rejected[8]["transaction_id"] is None
    assert await _stored(owner_engine, owner.org_id) == [
        ("cpu", "engine_cpu_seconds", Decimal("12.5")),
        ("run-1", "simulation_runs", Decimal(1)),
        ("user-a", "active_users", Decimal(1)),
    ]

    again = await client.post(RECORD, json={"events": events}, headers=_internal(settings))
    body = await again.get_json()
    assert (body["stored"], body["duplicates"], len(body["rejected"])) == (0, 5, 7)
    assert len(await _stored(owner_engine, owner.org_id)) == 3

    all_bad = await client.post(RECORD, json={"events": events[2:4]}, headers=_internal(settings))
    assert all_bad.status_code == 422
    assert [r["index"] for r in (await all_bad.get_json())["details"]["rejected"]] == [0, 1]
    for envelope in ({"events": []}, {"events": [events[0]] * 1001}, {"events": events, "more": 1}, {"e": []}):
        assert (await client.post(RECORD, json=envelope, headers=_internal(settings))).status_code == 422


async def test_a_key_counts_once_across_monthly_partitions(client, factory, settings, owner_engine):
    owner = await factory.org_with_owner(plan="free")
    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    # the late window allows 14 days at most: cross into last month's partition when it is that close
    earlier = month_start - timedelta(hours=1) if now - month_start < timedelta(days=13) else now - timedelta(days=13)
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO settings (id, scope, key, value) VALUES (gen_random_uuid(), 'system', 'usage.late_days', "
                "'14'::jsonb) ON CONFLICT DO NOTHING"
            )
        )
    try:
        first = await client.post(
            RECORD, json={"events": [_event(owner.org_id, "x", now)]}, headers=_internal(settings)
        )
        second = await client.post(
            RECORD, json={"events": [_event(owner.org_id, "x", earlier, quantity=5)]}, headers=_internal(settings)
        )
    finally:
        async with owner_engine.begin() as conn:
            await conn.execute(text("DELETE FROM settings WHERE scope = 'system' AND key = 'usage.late_days'"))
    assert (await first.get_json())["stored"] == 1
    assert (await second.get_json())["duplicates"] == 1
    async with owner_engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT tableoid::regclass::text, quantity FROM usage_metered_usage WHERE organization_id = :o"),
                {"o": owner.org_id},
            )
        ).all()
        target = (
            await conn.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = 'usage_metered_usage'::regclass AND pg_get_expr(c.relpartbound, c.oid) "
                    "<> 'DEFAULT' AND :t >= to_date(right(c.relname, 6), 'YYYYMM') "
                    "AND :t < to_date(right(c.relname, 6), 'YYYYMM') + interval '1 month'"
                ),
                {"t": earlier},
            )
        ).scalar_one_or_none()
    assert [q for _, q in rows] == [Decimal(1)]
    if earlier < month_start:  # the repeat named a month whose events live in another partition
        assert rows[0][0] != (target or "usage_metered_usage_default")


async def test_usage_events_are_append_only_at_the_database(client, factory, settings, maker, owner_engine):
    owner = await factory.org_with_owner(plan="free")
    batch = {"events": [_event(owner.org_id, "keep-me", datetime.now(UTC))]}
    assert (await client.post(RECORD, json=batch, headers=_internal(settings))).status_code == 200
    async with maker() as session:  # the app role
        for sql in ("UPDATE usage_metered_usage SET quantity = 0", "DELETE FROM usage_metered_usage"):
            with pytest.raises(DBAPIError, match="permission denied"):
                await session.execute(text(sql))
            await session.rollback()
    async with owner_engine.connect() as conn:  # even the owner goes through the trigger
        for sql in ("UPDATE usage_metered_usage SET quantity = 0", "DELETE FROM usage_metered_usage"):
            with pytest.raises(DBAPIError, match="cannot be changed or deleted"):
                await conn.execute(text(sql))
            await conn.rollback()
    assert await _stored(owner_engine, owner.org_id) == [("keep-me", "simulation_runs", Decimal(1))]


async def test_partitions_are_kept_ahead_and_old_ones_detached(maker, owner_engine):
    from webapp.ops import service as ops

    await ops.ensure_partitions(maker)
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS usage_metered_usage_p202301 PARTITION OF usage_metered_usage "
                "FOR VALUES FROM ('2023-01-01') TO ('2023-02-01')"
            )
        )
    assert await retention.detach_old_events(maker) >= 1
    async with owner_engine.connect() as conn:
        attached = set(
            (
                await conn.execute(
                    text(
                        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                        "WHERE i.inhparent = 'usage_metered_usage'::regclass"
                    )
                )
            ).scalars()
        )
        await conn.execute(text("DROP TABLE usage_metered_usage_p202301"))
        await conn.commit()
    ahead = (datetime.now(UTC).replace(day=1) + timedelta(days=95)).strftime("%Y%m")
    assert f"usage_metered_usage_p{ahead}" in attached
    assert "usage_metered_usage_p202301" not in attached


# --- rollups ---------------------------------------------------------------------------------------------------------

DIRECT = """
    SELECT e.metric_code, date_trunc(:g, e.occurred_at, 'UTC') AS w,
        CASE m.aggregation
            WHEN 'count' THEN count(*)::numeric WHEN 'sum' THEN sum(e.quantity) WHEN 'max' THEN max(e.quantity)
            WHEN 'unique_count' THEN count(DISTINCT e.properties ->> m.field_name)::numeric
            ELSE (array_agg(e.quantity ORDER BY e.occurred_at DESC, e.transaction_id DESC))[1] END AS v,
        count(*) AS n
    FROM usage_metered_usage e JOIN usage_billable_metrics m ON m.code = e.metric_code
    WHERE e.organization_id = :o GROUP BY 1, 2, m.aggregation ORDER BY 1, 2
"""
ROLLED = """
    SELECT metric_code, window_start, value, events FROM usage_aggregates
    WHERE organization_id = :o AND granularity = CAST(:g AS usage_granularity) ORDER BY 1, 2
"""


async def _compare(owner_engine, org_id) -> None:
    async with owner_engine.connect() as conn:
        for granularity in ("hour", "day"):
            direct = [tuple(r) for r in await conn.execute(text(DIRECT), {"o": org_id, "g": granularity})]
            rolled = [tuple(r) for r in await conn.execute(text(ROLLED), {"o": org_id, "g": granularity})]
            assert rolled == direct, granularity
            assert direct


@pytest.mark.parametrize(("seed", "path"), [(1, "hours"), (2, "hours"), (3, "months"), (4, "months")])
async def test_rollups_equal_a_direct_aggregate_after_random_late_arrivals(
    client, factory, settings, maker, owner_engine, monkeypatch, seed, path
):
    """A property over random batches: events of every aggregation type, some arriving hours or days late (into
    windows already rolled up), repeats among them; after each round the rollup runs, and at the end every hourly
    and daily aggregate equals the same aggregate taken straight from the raw events — and running the rollup over
    everything again changes nothing. Both ways a rollup works: stale hours one by one, and a month with a backlog
    recomputed in one pass over its events (here any month with a stale hour)."""
    if path == "months":
        monkeypatch.setattr(rollup, "REBUILD_HOURS", 1)
    rng = random.Random(seed)
    owner = await factory.org_with_owner(plan="free")
    now = datetime.now(UTC).replace(microsecond=0)
    codes = ["simulation_runs", "storage_gb", "active_users", "engine_cpu_seconds"]
    sent: list[dict] = []
    for round_ in range(5):
        batch = []
        for n in range(rng.randint(20, 80)):
            late = timedelta(minutes=rng.randint(0, 60 * 24 * 2 + 1000)) if rng.random() < 0.4 else timedelta(0)
            when = now - late - timedelta(seconds=rng.randint(0, 600))
            code = rng.choice(codes)
            batch.append(
                _event(owner.org_id, f"r{round_}-{n}", when, code, quantity=str(Decimal(rng.randint(0, 5000)) / 100),
                       user_id=rng.choice("abcdef"))
            )  # fmt: skip
        batch += rng.sample(sent, min(len(sent), 5))  # repeats of earlier events change nothing
        answer = await client.post(RECORD, json={"events": batch}, headers=_internal(settings))
        assert answer.status_code == 200 and not (await answer.get_json())["rejected"]
        sent += batch
        await rollup.roll_up(maker)
    await _compare(owner_engine, owner.org_id)

    async with owner_engine.begin() as conn:  # everything stale again: the same totals come out
        await conn.execute(
            text(
                "INSERT INTO usage_dirty_windows (organization_id, metric_code, hour_start) "
                "SELECT DISTINCT organization_id, metric_code, date_trunc('hour', occurred_at, 'UTC') "
                "FROM usage_metered_usage WHERE organization_id = :o ON CONFLICT DO NOTHING"
            ),
            {"o": owner.org_id},
        )
    await rollup.roll_up(maker)  # (or the live scheduler's rollup, serialised with it: the same totals either way)
    await _compare(owner_engine, owner.org_id)
