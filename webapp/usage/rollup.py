"""Rolling usage up: the worker claims stale hours (marked by ingestion), recomputes each hour whole from its raw
events and the day around it from its hours (a unique count's day from its events), and upserts
`usage_aggregates`. Recomputing whole windows makes it idempotent (running it again gives the same totals) and right
for late events (a late event marks its own, older hour)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import unit_of_work

CLAIM_LIMIT = 2000  # stale hours per transaction: a backlog is worked off in short transactions
# A month with this many stale hours is recomputed whole, from one pass over its partition: looking up each hour's
# events costs 2-7 ms an hour here (a probe per partition, heap pages scattered by arrival order), scanning a month
# of a million events about a second — the scan wins long before every hour of a busy month is stale
REBUILD_HOURS = 2000

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


# a month's backlog: every mark of the month that no ingesting transaction holds
_CLAIM_MONTH = text("""
    DELETE FROM usage_dirty_windows d
    USING (SELECT organization_id, metric_code, hour_start FROM usage_dirty_windows
           WHERE hour_start >= :start AND hour_start < :end FOR UPDATE SKIP LOCKED) c
    WHERE d.organization_id = c.organization_id AND d.metric_code = c.metric_code AND d.hour_start = c.hour_start
""")
_BACKLOG = text("""
    SELECT date_trunc('month', hour_start AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS month_start,
        (date_trunc('month', hour_start AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC' AS month_end
    FROM usage_dirty_windows GROUP BY 1, 2 HAVING count(*) >= :least ORDER BY 1
""")

# every hour of a month in one pass: the plain aggregations hash their groups; the costly ones (which sort inside
# each group) see only their own metrics' events
_MONTH_HOURS = text(f"""
    INSERT INTO usage_aggregates AS a {_COLUMNS}
    SELECT e.organization_id, e.metric_code, 'hour', date_trunc('hour', e.occurred_at, 'UTC'),
        CASE m.aggregation WHEN 'count' THEN count(*)::numeric WHEN 'sum' THEN sum(e.quantity)
            ELSE max(e.quantity) END,
        count(*), max(e.occurred_at), now()
    FROM usage_metered_usage e JOIN usage_billable_metrics m ON m.code = e.metric_code
    WHERE e.occurred_at >= :start AND e.occurred_at < :end AND m.aggregation IN ('count', 'sum', 'max')
    GROUP BY e.organization_id, e.metric_code, date_trunc('hour', e.occurred_at, 'UTC'), m.aggregation
    {_UPSERT}
""")  # noqa: S608
_MONTH_COSTLY_HOURS = text(f"""
    INSERT INTO usage_aggregates AS a {_COLUMNS}
    SELECT e.organization_id, e.metric_code, 'hour', date_trunc('hour', e.occurred_at, 'UTC'), {_HOUR_VALUE},
        count(*), max(e.occurred_at), now()
    FROM usage_metered_usage e JOIN usage_billable_metrics m ON m.code = e.metric_code
    WHERE e.occurred_at >= :start AND e.occurred_at < :end AND m.aggregation IN ('unique_count', 'latest')
    GROUP BY e.organization_id, e.metric_code, date_trunc('hour', e.occurred_at, 'UTC'), m.aggregation, m.field_name
    {_UPSERT}
""")  # noqa: S608
_MONTH_DAYS = text(f"""
    INSERT INTO usage_aggregates AS a {_COLUMNS}
    SELECT h.organization_id, h.metric_code, 'day', date_trunc('day', h.window_start, 'UTC'),
        CASE m.aggregation WHEN 'max' THEN max(h.value)
            WHEN 'latest' THEN (array_agg(h.value ORDER BY h.last_event_at DESC))[1]
            ELSE sum(h.value) END,
        sum(h.events), max(h.last_event_at), now()
    FROM usage_aggregates h JOIN usage_billable_metrics m ON m.code = h.metric_code AND m.aggregation <> 'unique_count'
    WHERE h.granularity = 'hour' AND h.window_start >= :start AND h.window_start < :end
    GROUP BY h.organization_id, h.metric_code, date_trunc('day', h.window_start, 'UTC'), m.aggregation
    {_UPSERT}
""")  # noqa: S608
_MONTH_UNIQUE_DAYS = text(f"""
    INSERT INTO usage_aggregates AS a {_COLUMNS}
    SELECT e.organization_id, e.metric_code, 'day', date_trunc('day', e.occurred_at, 'UTC'),
        count(DISTINCT e.properties ->> m.field_name)::numeric, count(*), max(e.occurred_at), now()
    FROM usage_metered_usage e JOIN usage_billable_metrics m ON m.code = e.metric_code
    WHERE e.occurred_at >= :start AND e.occurred_at < :end AND m.aggregation = 'unique_count'
    GROUP BY e.organization_id, e.metric_code, date_trunc('day', e.occurred_at, 'UTC'), m.field_name
    {_UPSERT}
""")  # noqa: S608


async def rebuild_month(session: AsyncSession, start: datetime, end: datetime) -> int:
    """Claim a month's stale hours and recompute every hour and day of the month from its events (a stale hour is
    among them; the others come out as they were); how many marks were claimed."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('usage_rollup'))"))
    bounds = {"start": start, "end": end}
    claimed = (await session.execute(_CLAIM_MONTH, bounds)).rowcount
    for statement in (_MONTH_HOURS, _MONTH_COSTLY_HOURS, _MONTH_DAYS, _MONTH_UNIQUE_DAYS):
        await session.execute(statement, bounds)
    return claimed


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
    """Work off every stale hour — a month with a backlog in one pass over its events, the rest a transaction per
    claim; how many stale hours were worked off."""
    total = 0
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="usage rollup (worker)")
        months = (await session.execute(_BACKLOG, {"least": REBUILD_HOURS})).all()
    for month in months:
        async with unit_of_work(maker) as session:
            await enable_rls_bypass(session, reason="usage rollup (worker): a month's backlog")
            total += await rebuild_month(session, month.month_start, month.month_end)
    while True:
        async with unit_of_work(maker) as session:
            await enable_rls_bypass(session, reason="usage rollup (worker)")
            done = await roll_up_once(session)
        total += done
        if done < CLAIM_LIMIT:
            return total
