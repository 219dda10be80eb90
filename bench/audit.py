"""Audit log benchmark.

(1) The hash chain's cost on inserts: 8 concurrent writers, each writing one audit row per transaction through
`webapp.core.audit.record` (two SHA-256 over canonical JSON here, then one statement: the head hands out the link,
the row goes in), against the same rows inserted without the chain (the same INSERT … SELECT with the same casts
through the same session machinery, chain columns NULL) in the same run, after a warm-up of both — once with the
8 writers in 8 organizations (target ratio >= 0.75) and once all in one organization (its writers queue on the
chain head: reported).
(2) Export: `--export-rows` rows (1,000,000 by default, seeded with COPY into one organization) streamed as JSON
Lines by the export code; rows/s and the process's peak memory growth.

Run as `python -m bench.audit` (make bench). Not a test: nothing here asserts on speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from bench.http import OUT, start_services

WRITERS = 8
# the same row without the chain: the app's chained statement minus the head's link, same casts, same text() path
PLAIN_INSERT = text("""
    INSERT INTO audit_logs (id, created_at, organization_id, actor_user_id, impersonator_user_id, action,
                            entity_type, entity_id, before, after, metadata, request_id, ip, user_agent, break_glass)
    SELECT CAST(:id AS uuid), CAST(:created_at AS timestamptz), CAST(:organization_id AS uuid),
           CAST(:actor_user_id AS uuid), CAST(:impersonator_user_id AS uuid), :action, :entity_type, :entity_id,
           CAST(:before AS jsonb), CAST(:after AS jsonb), CAST(:metadata AS jsonb), :request_id, CAST(:ip AS inet),
           :user_agent, CAST(:break_glass AS boolean)
""")


async def _engine():
    from webapp.config import load_settings
    from webapp.core.db import make_engine, make_sessionmaker

    settings = load_settings()
    engine = make_engine(settings.database_url, settings.app_db_role, pool_size=WRITERS + 2)
    return engine, make_sessionmaker(engine)


async def _orgs(maker, count: int) -> list[uuid.UUID]:
    from webapp.core.transaction import unit_of_work
    from webapp.identity.service import create_user
    from webapp.organizations.service import create_organization

    ids = []
    for n in range(count):
        slug = f"audit-{n}-{secrets.token_hex(3)}"
        async with unit_of_work(maker) as session:
            user = await create_user(session, None, email=f"{slug}@example.org", name="Bench", password="bench-pass-1")
            org = await create_organization(session, None, slug=slug, name=f"Audit {n}", owner_id=user.id)
            ids.append(org.id)
    return ids


async def _write(maker, org_id, seconds: float, chained: bool) -> int:
    from webapp.core import audit
    from webapp.core.audit import jsonable
    from webapp.core.ids import new_id
    from webapp.core.tenancy import RequestContext, scope_session
    from webapp.core.transaction import unit_of_work

    ctx = RequestContext(org_id=org_id, ip="203.0.113.7", user_agent="bench/1.0", request_id="bench")
    written, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        async with unit_of_work(maker) as session:
            await scope_session(session, org_id=org_id)
            after = {"name": f"Mission {written}", "crew_size": 4, "destination": "moon"}
            if chained:
                await audit.record(session, ctx, "mission.update", entity_type="mission", entity_id=written,
                                   before={"name": "old"}, after=after)  # fmt: skip
            else:
                row = {
                    "id": new_id(), "created_at": datetime.now(UTC), "organization_id": org_id,
                    "actor_user_id": None, "impersonator_user_id": None, "action": "mission.update",
                    "entity_type": "mission", "entity_id": str(written), "before": '{"name":"old"}',
                    "after": json.dumps(jsonable(after)), "metadata": "{}", "request_id": "bench",
                    "ip": "203.0.113.7", "user_agent": "bench/1.0", "break_glass": False,
                }  # fmt: skip
                await session.execute(PLAIN_INSERT, row)
        written += 1
    return written


async def inserts(seconds: float, rounds: int) -> dict:
    engine, maker = await _engine()
    orgs = await _orgs(maker, WRITERS)
    out = {}
    for label, targets in (("8 organizations", orgs), ("1 organization", [orgs[0]] * WRITERS)):
        best = {}
        await asyncio.gather(*(_write(maker, org, 1.0, True) for org in targets))  # warm up both paths first
        await asyncio.gather(*(_write(maker, org, 1.0, False) for org in targets))
        for chained in (False, True) * rounds:
            began = time.perf_counter()
            counts = await asyncio.gather(*(_write(maker, org, seconds, chained) for org in targets))
            rate = sum(counts) / (time.perf_counter() - began)
            key = "chain" if chained else "plain"
            best[key] = max(best.get(key, 0), rate)
        out[label] = best | {"ratio": best["chain"] / best["plain"]}
        print(f"{label}: {best['chain']:.0f} rows/s chained, {best['plain']:.0f} plain, "
              f"ratio {out[label]['ratio']:.2f}", flush=True)  # fmt: skip
    await engine.dispose()
    return out


async def export(rows: int) -> dict:
    import asyncpg

    from webapp.audit import export as audit_export
    from webapp.audit.queries import ORG_AUDIT
    from webapp.config import load_settings

    engine, maker = await _engine()
    (org_id,) = await _orgs(maker, 1)
    settings = load_settings()
    conn = await asyncpg.connect(settings.database_url.replace("postgresql+asyncpg://", "postgresql://"))
    start = datetime.now(UTC) - timedelta(days=20)
    began = time.perf_counter()
    await conn.copy_records_to_table(
        "audit_logs",
        columns=["id", "created_at", "organization_id", "action", "entity_type", "entity_id", "after", "metadata"],
        records=(
            (uuid.uuid4(), start + timedelta(seconds=i), org_id, "mission.update", "mission", str(i),
             json.dumps({"name": f"Mission {i}", "crew_size": 4}), "{}")
            for i in range(rows)
        ),
    )  # fmt: skip
    seeded = time.perf_counter() - began
    await conn.close()
    stmt, params = ORG_AUDIT.filtered({})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    count = size = 0
    async for line in audit_export.jsonl(audit_export._rows(maker, stmt, params | {"org_id": org_id},
                                                            org_id=org_id, user_id=None)):  # fmt: skip
        count += 1
        size += len(line)
    elapsed = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    await engine.dispose()
    return {"rows": count, "seconds": elapsed, "rows_per_s": count / elapsed, "bytes": size, "seed_s": seeded,
            "peak_rss_growth_mb": (peak - before) / 1024, "peak_rss_mb": peak / 1024}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--export-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    services = start_services()
    try:
        ins = asyncio.run(inserts(args.seconds, args.rounds))
        exp = asyncio.run(export(args.export_rows))
    finally:
        services.stop()
    print(f"\nAudit inserts, {WRITERS} concurrent writers, one row per transaction, {args.seconds:g} s, best of "
          f"{args.rounds}:")  # fmt: skip
    for label, r in ins.items():
        print(f"  {label:<16} chained {r['chain']:>7.0f} rows/s   plain {r['plain']:>7.0f} rows/s   "
              f"ratio {r['ratio']:.2f}")  # fmt: skip
    print("  (target: ratio >= 0.75 for 8 organizations)")
    print(f"\nExport of {exp['rows']:,} rows as JSON Lines: {exp['seconds']:.1f} s, {exp['rows_per_s']:,.0f} rows/s, "
          f"{exp['bytes'] / 1e6:.0f} MB; peak RSS grew {exp['peak_rss_growth_mb']:.1f} MB "
          f"(to {exp['peak_rss_mb']:.0f} MB); seeding by COPY took {exp['seed_s']:.0f} s")  # fmt: skip
    (OUT / "audit.json").write_text(json.dumps({"inserts": ins, "export": exp}, indent=2))


if __name__ == "__main__":
    main()
