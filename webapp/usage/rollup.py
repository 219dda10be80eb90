"""Rolling usage up: the worker claims stale hours (marked by ingestion), recomputes each hour whole from its raw
events and the day around it from its hours (a unique count's day from its events), and upserts
`usage_aggregates`. Recomputing whole windows makes it idempotent (running it again gives the same totals) and right
for late events (a late event marks its own, older hour)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import unit_of_work

CLAIM_LIMIT = 2000  # stale hours per transaction: a backlog is worked off in short transactions

# Rows an ingesting transaction still holds are skipped: their events are not visible yet, and the mark stays for
# the next pass. Claimed in key order, so a claim covers runs of neighbouring hours and recomputes each day about
# once (every mark is worked off in the same pass anyway).
_CLAIM = text("""
    DELETE FROM usage_dirty_windows d
    USING (SELECT organization_id, metric_code, hour_start FROM usage_dirty_windows
           ORDER BY organization_id, metric_code, hour_start LIMIT :limit FOR UPDATE SKIP LOCKED) c
    WHERE d.organization_id = c.organization_id AND d.metric_code = c.metric_code AND d.hour_start = c.hour_start
    RETURNING d.organization_id, d.metric_code, d.hour_start
""")

# each aggregation type over one hour's events; the costly ones (a distinct count, the last value) only for the
# metrics that use them (FILTER keeps the others' rows out of their sorts); `latest` breaks ties the same way always
_HOUR_VALUE = """
    CASE m.aggregation
        WHEN 'count' THEN count(*)::numeric
        WHEN 'sum' THEN sum(e.quantity)
        WHEN 'max' THEN max(e.quantity)
        WHEN 'unique_count' THEN
            (count(DISTINCT e.properties ->> m.field_name) FILTER (WHERE m.aggregation = 'unique_count'))::numeric
        ELSE (array_agg(e.quantity ORDER BY e.occurred_at DESC, e.transaction_id DESC)
              FILTER (WHERE m.aggregation = 'latest'))[1]
    END
"""
_UPSERT = """
    ON CONFLICT (organization_id, metric_code, granularity, window_start) DO UPDATE SET
        value = excluded.value, events = excluded.events, last_event_at = excluded.last_event_at,
        computed_at = excluded.computed_at
"""
_WINDOWS = "unnest(CAST(:orgs AS uuid[]), CAST(:codes AS text[]), CAST(:starts AS timestamptz[]))"
_DAYS_OF = f"SELECT DISTINCT o, c, date_trunc('day', s, 'UTC') FROM {_WINDOWS} AS x(o, c, s)"
_COLUMNS = "(organization_id, metric_code, granularity, window_start, value, events, last_event_at, computed_at)"

# an hour, whole, from its raw events
_HOURS = text(f"""
    INSERT INTO usage_aggregates AS a {_COLUMNS}
    SELECT w.org, w.code, 'hour', w.start, {_HOUR_VALUE}, count(*), max(e.occurred_at), now()
    FROM {_WINDOWS} AS w(org, code, start)
    JOIN usage_billable_metrics m ON m.code = w.code
    JOIN usage_metered_usage e ON e.organization_id = w.org AND e.metric_code = w.code
        AND e.occurred_at >= w.start AND e.occurred_at < w.start + interval '1 hour'
    GROUP BY w.org, w.code, w.start, m.aggregation, m.field_name
    {_UPSERT}
""")  # noqa: S608  (the fragments are constants of this module)

# a day from its hours (24 rows, not every event): counts and sums add up, the peak is the hours' peak, the latest
# value is the one of the hour that saw the last event — exactly what the day's raw events would give
_DAYS = text(f"""
    INSERT INTO usage_aggregates AS a {_COLUMNS}
    SELECT d.org, d.code, 'day', d.start,
        CASE m.aggregation WHEN 'max' THEN max(h.value)
            WHEN 'latest' THEN (array_agg(h.value ORDER BY h.last_event_at DESC))[1]
            ELSE sum(h.value) END,
        sum(h.events), max(h.last_event_at), now()
    FROM ({_DAYS_OF}) AS d(org, code, start)
    JOIN usage_billable_metrics m ON m.code = d.code AND m.aggregation <> 'unique_count'
    JOIN usage_aggregates h ON h.organization_id = d.org AND h.metric_code = d.code AND h.granularity = 'hour'
        AND h.window_start >= d.start AND h.window_start < d.start + interval '1 day'
    GROUP BY d.org, d.code, d.start, m.aggregation
    {_UPSERT}
""")  # noqa: S608

# distinct values cannot be added up across hours: a unique count's day comes from its raw events
_UNIQUE_DAYS = text(f"""
    INSERT INTO usage_aggregates AS a {_COLUMNS}
    SELECT d.org, d.code, 'day', d.start, count(DISTINCT e.properties ->> m.field_name)::numeric, count(*),
        max(e.occurred_at), now()
    FROM ({_DAYS_OF}) AS d(org, code, start)
    JOIN usage_billable_metrics m ON m.code = d.code AND m.aggregation = 'unique_count'
    JOIN usage_metered_usage e ON e.organization_id = d.org AND e.metric_code = d.code
        AND e.occurred_at >= d.start AND e.occurred_at < d.start + interval '1 day'
    GROUP BY d.org, d.code, d.start, m.field_name
    {_UPSERT}
""")  # noqa: S608


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
        await session.execute(_UNIQUE_DAYS, params)
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
