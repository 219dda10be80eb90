"""Rolling usage up: the worker claims stale hours (marked by ingestion), recomputes each hour and the day around it
whole from the raw events, and upserts `usage_aggregates`. Recomputing whole windows makes it idempotent (running it
again gives the same totals) and right for late events (a late event marks its own, older hour)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import unit_of_work

CLAIM_LIMIT = 2000  # stale hours per transaction: a backlog is worked off in short transactions

# Rows an ingesting transaction still holds are skipped: their events are not visible yet, and the mark stays for
# the next pass.
_CLAIM = text("""
    DELETE FROM usage_dirty_windows d
    USING (SELECT organization_id, metric_code, hour_start FROM usage_dirty_windows
           ORDER BY marked_at LIMIT :limit FOR UPDATE SKIP LOCKED) c
    WHERE d.organization_id = c.organization_id AND d.metric_code = c.metric_code AND d.hour_start = c.hour_start
    RETURNING d.organization_id, d.metric_code, d.hour_start
""")

# each aggregation type over one window's events; `latest` breaks ties the same way every time
VALUE = """
    CASE m.aggregation
        WHEN 'count' THEN count(*)::numeric
        WHEN 'sum' THEN sum(e.quantity)
        WHEN 'max' THEN max(e.quantity)
        WHEN 'unique_count' THEN count(DISTINCT e.properties ->> m.field_name)::numeric
        ELSE (array_agg(e.quantity ORDER BY e.occurred_at DESC, e.transaction_id DESC))[1]
    END
"""


def _recompute(granularity: str, window_sql: str) -> text:
    return text(f"""
        INSERT INTO usage_aggregates AS a
            (organization_id, metric_code, granularity, window_start, value, events, last_event_at, computed_at)
        SELECT w.org, w.code, '{granularity}', w.start, {VALUE}, count(*), max(e.occurred_at), now()
        FROM ({window_sql}) AS w(org, code, start)
        JOIN usage_billable_metrics m ON m.code = w.code
        JOIN usage_metered_usage e ON e.organization_id = w.org AND e.metric_code = w.code
            AND e.occurred_at >= w.start AND e.occurred_at < w.start + interval '1 {granularity}'
        GROUP BY w.org, w.code, w.start, m.aggregation, m.field_name
        ON CONFLICT (organization_id, metric_code, granularity, window_start) DO UPDATE SET
            value = excluded.value, events = excluded.events, last_event_at = excluded.last_event_at,
            computed_at = excluded.computed_at
    """)  # noqa: S608  (the two fragments are constants of this module)


_WINDOWS = "unnest(CAST(:orgs AS uuid[]), CAST(:codes AS text[]), CAST(:starts AS timestamptz[]))"
_HOURS = _recompute("hour", f"SELECT * FROM {_WINDOWS}")
_DAYS = _recompute("day", f"SELECT DISTINCT o, c, date_trunc('day', s, 'UTC') FROM {_WINDOWS} AS x(o, c, s)")


async def roll_up_once(session: AsyncSession, limit: int = CLAIM_LIMIT) -> int:
    """Claim up to `limit` stale hours and recompute them and their days; how many hours were claimed."""
    # one rollup at a time: two claiming different hours of one day would each write that day from their own
    # snapshot, and the later commit could carry the older total
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('usage_rollup'))"))
    claimed = (await session.execute(_CLAIM, {"limit": limit})).all()
    if claimed:
        params = {
            "orgs": [row.organization_id for row in claimed],
            "codes": [row.metric_code for row in claimed],
            "starts": [row.hour_start for row in claimed],
        }
        await session.execute(_HOURS, params)
        await session.execute(_DAYS, params)
    return len(claimed)


async def roll_up(maker: async_sessionmaker) -> int:
    """Work off every stale hour, a transaction per claim; how many hours were recomputed."""
    total = 0
    while True:
        async with unit_of_work(maker) as session:
            await enable_rls_bypass(session, reason="usage rollup (worker)")
            done = await roll_up_once(session)
        total += done
        if done < CLAIM_LIMIT:
            return total
