"""Usage metering benchmark.

(1) Ingestion: batches of 1,000 events through POST /internal/usage/record against the raw twin
(bench/baseline_app.py: the same JSON parse and the same single INSERT statement on bare asyncpg) in the same run,
4 concurrent senders, every batch new; events/s of each and the ratio (target >= 0.75), next to Lago's published
10,000 events/s on Postgres alone (a report only: this machine has 2 cores for client, server and database).
(2) Aggregation over `--events` raw events (10 million by default, seeded with COPY over 30 days): a full rollup of
every stale hour, then an incremental one after 10,000 late events; and the usage report of one organization (the
dashboard's query) against the same SQL on bare asyncpg, ratio (target >= 0.75).

Run as `make bench` (python -m bench.usage). Not a test: nothing here asserts on speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx

from bench.http import OUT, start, start_services, wait_http

BATCH = 1000
METRICS = ("simulation_runs", "api_calls", "engine_cpu_seconds", "storage_gb")


def batches(org_id: str, prefix: str, count: int) -> list[bytes]:
    """`count` distinct batches of 1,000 events each, timestamped within the last hour."""
    now = datetime.now(UTC)
    out = []
    for b in range(count):
        events = [
            {"transaction_id": f"{prefix}-{b}-{i}", "organization_id": org_id, "code": METRICS[i % 3],
             "quantity": (i % 7) + 1, "timestamp": (now - timedelta(seconds=(b * 7 + i) % 3500)).isoformat(),
             "properties": {"run_type": "monte_carlo" if i % 2 else "plan"}}
            for i in range(BATCH)
        ]  # fmt: skip
        out.append(json.dumps({"events": events}, separators=(",", ":")).encode())
    return out


async def send(url: str, token: str, bodies: list[bytes], seconds: float, senders: int = 4) -> dict:
    """Post batches from `bodies` (each once) with `senders` concurrent clients for `seconds`."""
    queue = iter(bodies)
    latencies: list[float] = []
    stored = 0
    deadline = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def sender(http: httpx.AsyncClient) -> None:
        nonlocal stored
        while time.perf_counter() < deadline:
            body = next(queue, None)
            if body is None:
                raise SystemExit("ran out of batches: raise the count")
            began = time.perf_counter()
            answer = await http.post("/internal/usage/record", content=body, headers=headers)
            latencies.append((time.perf_counter() - began) * 1000)
            if answer.status_code != 200:
                raise SystemExit(f"{url}: {answer.status_code} {answer.text[:300]}")
            stored += answer.json()["stored"]

    began = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        await asyncio.gather(*(sender(http) for _ in range(senders)))
    elapsed = time.perf_counter() - began
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"events_per_s": stored / elapsed, "batches": len(latencies), "p50_ms": q[49], "p99_ms": q[98]}


async def seed_orgs(count: int) -> list[str]:
    """Organizations to meter (created as the product creates them)."""
    from webapp.config import load_settings
    from webapp.core.db import make_engine, make_sessionmaker
    from webapp.core.transaction import unit_of_work
    from webapp.identity.service import create_user
    from webapp.organizations.service import create_organization

    settings = load_settings()
    engine = make_engine(settings.database_url, settings.app_db_role, pool_size=2)
    ids = []
    for n in range(count):
        slug = f"meter-{n}-{secrets.token_hex(3)}"
        async with unit_of_work(make_sessionmaker(engine)) as session:
            user = await create_user(session, None, email=f"{slug}@example.org", name="Bench", password="bench-pass-1")
            org = await create_organization(session, None, slug=slug, name=f"Meter {n}", owner_id=user.id)
            ids.append(str(org.id))
    await engine.dispose()
    return ids


def ingestion(args, org_id: str) -> dict:
    """Alternate app and twin runs; each side's best run (the machine's swings hit both)."""
    from webapp.config import load_settings

    token = load_settings().internal_tokens("usage")[0]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    uvicorn = [sys.executable, "-m", "uvicorn", "--loop", "uvloop", "--http", "httptools", "--no-access-log",
               "--host", "127.0.0.1"]  # fmt: skip
    procs = [
        start(uvicorn + ["--port", "8765", "webapp.asgi:app"], env, OUT / "usage-web.log"),
        start(uvicorn + ["--port", "8766", "bench.baseline_app:app"], env, OUT / "usage-baseline.log"),
    ]
    try:
        app_url, twin_url = "http://127.0.0.1:8765", "http://127.0.0.1:8766"
        for url in (app_url, twin_url):
            wait_http(url + "/health")
        runs: dict[str, list[dict]] = {"app": [], "twin": []}
        for round_ in range(args.rounds):
            for side, url in (("app", app_url), ("twin", twin_url)):
                bodies = batches(org_id, f"{side}{round_}", args.batches)
                runs[side].append(asyncio.run(send(url, token, bodies, args.seconds)))
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
    return {side: max(found, key=lambda r: r["events_per_s"]) for side, found in runs.items()} | {"all": runs}


async def seed_raw(org_ids: list[str], total: int) -> float:
    """`total` events over the last 30 days, COPYed straight into the events table (as the schema owner)."""
    import asyncpg

    from webapp.config import load_settings

    dsn = load_settings().database_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    rng = random.Random(7)
    now = datetime.now(UTC)
    began = time.perf_counter()
    chunk = 200_000
    orgs = [uuid.UUID(o) for o in org_ids]
    try:
        for start_at in range(0, total, chunk):
            rows = [
                (orgs[n % len(orgs)], f"seed-{n}", now - timedelta(seconds=rng.randint(60, 30 * 86400)),
                 METRICS[n % len(METRICS)], Decimal(rng.randint(1, 50)), "{}")
                for n in range(start_at, min(total, start_at + chunk))
            ]  # fmt: skip
            await conn.copy_records_to_table(
                "usage_metered_usage", records=rows,
                columns=["organization_id", "transaction_id", "occurred_at", "metric_code", "quantity", "properties"],
            )  # fmt: skip
        await conn.execute("ANALYZE usage_metered_usage")
        await conn.execute(
            "INSERT INTO usage_dirty_windows (organization_id, metric_code, hour_start) "
            "SELECT DISTINCT organization_id, metric_code, date_trunc('hour', occurred_at, 'UTC') "
            "FROM usage_metered_usage ON CONFLICT DO NOTHING"
        )
    finally:
        await conn.close()
    return time.perf_counter() - began


async def aggregation(org_ids: list[str], late: int, repeats: int) -> dict:
    """Full rollup, incremental rollup after `late` late events (through the ingestion path), and the report query
    against its raw twin."""
    import asyncpg

    from webapp.config import load_settings
    from webapp.core.db import make_engine, make_sessionmaker
    from webapp.core.tenancy import enable_rls_bypass, scope_session
    from webapp.core.transaction import unit_of_work
    from webapp.usage import ingest, report, rollup

    settings = load_settings()
    engine = make_engine(settings.database_url, settings.app_db_role, pool_size=4)
    maker = make_sessionmaker(engine)
    began = time.perf_counter()
    hours = await rollup.roll_up(maker)
    full = time.perf_counter() - began

    now = datetime.now(UTC)
    rng = random.Random(11)
    events = [
        {"transaction_id": f"late-{n}", "organization_id": org_ids[n % len(org_ids)], "code": METRICS[n % 3],
         "quantity": 2, "timestamp": (now - timedelta(minutes=rng.randint(61, 60 * 70))).isoformat()}
        for n in range(late)
    ]  # fmt: skip
    for start_at in range(0, late, BATCH):
        async with unit_of_work(maker) as session:
            await enable_rls_bypass(session, reason="bench: late events")
            await ingest.record(session, events[start_at : start_at + BATCH])
    began = time.perf_counter()
    late_hours = await rollup.roll_up(maker)
    incremental = time.perf_counter() - began

    org = uuid.UUID(org_ids[0])
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=org)
        start, end, plan = await report.period_bounds(session, org, "current")
    start = min(start, now - timedelta(days=30))  # the whole seeded month, whatever the period says

    async def app_once() -> None:
        async with unit_of_work(maker) as session:
            await scope_session(session, org_id=org)
            await report.usage_between(session, org, start, end, plan)

    dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2, server_settings={"role": settings.app_db_role})
    span = (org, start.replace(minute=0, second=0, microsecond=0), end.replace(minute=0, second=0, microsecond=0))

    async def twin_once() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT set_config('app.org_id', $1, true)", str(org))
            await conn.fetch(_sql(report._TOTALS), *span)
            await conn.fetch(_sql(report._DAYS), *span)
            await conn.fetch(str(report._METRICS))

    timings: dict[str, list[float]] = {"app": [], "twin": []}
    for _ in range(repeats):
        for side, once in (("app", app_once), ("twin", twin_once)):
            began = time.perf_counter()
            await once()
            timings[side].append((time.perf_counter() - began) * 1000)
    await pool.close()
    await engine.dispose()
    app_ms, twin_ms = statistics.median(timings["app"]), statistics.median(timings["twin"])
    return {"full_s": full, "hours": hours, "incremental_s": incremental, "late_hours": late_hours,
            "report_ms": app_ms, "report_twin_ms": twin_ms, "report_ratio": twin_ms / app_ms}  # fmt: skip


def _sql(statement) -> str:
    """A module's named-parameter SQL (:o, :start, :end) in asyncpg's positional form."""
    return str(statement).replace(":o", "$1").replace(":start", "$2").replace(":end", "$3")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--batches", type=int, default=900, help="batches made per run (each sent once)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--late", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    services = start_services()
    try:
        orgs = asyncio.run(seed_orgs(20))
        ingest = ingestion(args, orgs[0])
        (OUT / "usage-ingestion.json").write_text(json.dumps(ingest, indent=2))  # kept should the rest be stopped
        print("ingestion (events/s): app", round(ingest["app"]["events_per_s"]), "twin",
              round(ingest["twin"]["events_per_s"]), flush=True)  # fmt: skip
        seeded_s = asyncio.run(seed_raw(orgs, args.events))
        agg = asyncio.run(aggregation(orgs, args.late, args.repeats))
    finally:
        services.stop()
    ratio = ingest["app"]["events_per_s"] / ingest["twin"]["events_per_s"]
    print(f"\nUsage ingestion: batches of {BATCH}, 4 senders, {args.seconds:g} s a run, best of {args.rounds}\n")
    print(f"{'target':<46}{'events/s':>10}{'batches':>9}{'p50 ms':>9}{'p99 ms':>9}")
    for key, label in (("app", "(a) POST /internal/usage/record"), ("twin", "(b) same parse + INSERT, raw asyncpg")):
        r = ingest[key]
        print(f"{label:<46}{r['events_per_s']:>10.0f}{r['batches']:>9}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}")
    print(f"\nratio (a)/(b) = {ratio:.2f}   (target >= 0.75; Lago publishes 10,000 events/s on Postgres alone)")
    print(f"\nAggregation over {args.events:,} events (COPY and marking in {seeded_s:.0f} s):")
    print(f"  full rollup: {agg['hours']:,} hours (and their days) in {agg['full_s']:.1f} s")
    print(f"  after {args.late:,} late events: {agg['late_hours']:,} hours in {agg['incremental_s']:.2f} s")
    print(
        f"  usage report of one organization: {agg['report_ms']:.1f} ms vs {agg['report_twin_ms']:.1f} ms raw "
        f"(median of {args.repeats}); ratio {agg['report_ratio']:.2f} (target >= 0.75)"
    )
    (OUT / "usage.json").write_text(json.dumps({"ingestion": ingest, "ratio": ratio, "aggregation": agg}, indent=2))


if __name__ == "__main__":
    main()
