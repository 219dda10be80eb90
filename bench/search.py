"""Search at scale and attachment completion.

Run as `make bench` (after bench.missions) or `python -m bench.search`.
1,000,000 search_index rows over 100 organizations, seeded with COPY (its time is printed), then
(a) the search JSON for a two-word query, with an API key; (b) the same SQL on raw asyncpg (bench.baseline_app)
(c) the search JSON for a common tag (about 15 % of rows); (d) the same on raw asyncpg; (c'), (d') a rare tag (0.2 %)
(e) EXPLAIN (ANALYZE, BUFFERS) of the statements (GIN for words and the rare tag; a common tag is cheapest walking
the primary key in order and stopping at a page), and the raw statements' own p50/p95
(f) completing a 10 MiB attachment (the server re-reads and hashes it) against hashing the same bytes in-process.
Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import random
import signal
import statistics
import time
import uuid

import httpx

from bench.http import OUT, ensure_wrk, run_wrk, start_services, start_web_pair

WORDS = (
    "regolith brick sinter filament water methane oxygen brine compactor shredder extruder furnace reformer isru "
    "habitat airlock greywater urine feces packaging foam nitrile cotton polyethylene nylon kapton aluminium mylar "
    "crew mission dust lunar martian jezero gale utopia shackleton tycho copernicus orbit lander rover cargo"
).split()
TAGS = ("isru", "eclss", "phase-1", "phase-2", "spares", "qa", "critical", "pilot", "baseline", "night-shift")
RARE_TAG = "recall"  # on about 1 row in 500: a tag filter the GIN index answers (a common tag walks the key)
KINDS = ("missions", "waste-materials", "processing-modules", "processing-recipes", "simulation-runs", "products")
ORGS, ROWS = 100, 1_000_000
SEED_COLUMNS = ["organization_id", "entity_type", "entity_id", "mission_id", "title", "body", "tags", "tags_text"]


async def seed(orgs: int, rows: int) -> dict:
    """Organizations and one owner with an API key through the services; the index rows with COPY."""
    import asyncpg

    from webapp.apikeys.service import create_key
    from webapp.config import load_settings
    from webapp.core.db import make_engine, make_sessionmaker
    from webapp.core.ids import new_id
    from webapp.core.tenancy import RequestContext, scope_session
    from webapp.core.transaction import unit_of_work
    from webapp.iam.catalog import system_role_permissions
    from webapp.identity.service import create_user
    from webapp.organizations.service import create_organization

    settings = load_settings()
    engine = make_engine(settings.database_url, settings.app_db_role, pool_size=2)
    stamp = int(time.time())
    org_ids = []
    maker = make_sessionmaker(engine)
    async with unit_of_work(maker) as session:
        user = await create_user(
            session, None, email=f"search-{stamp}@example.org", name="Search Bench", password="bench-password-123"
        )
    for i in range(orgs):
        async with unit_of_work(maker) as session:
            org = await create_organization(
                session, None, slug=f"search-{stamp}-{i}", name=f"Search Org {i}", owner_id=user.id
            )
            org_ids.append(org.id)
            if i == 0:
                await scope_session(session, org_id=org.id, user_id=user.id)
                ctx = RequestContext(
                    user_id=user.id, org_id=org.id, role="owner", permissions=system_role_permissions("owner")
                )
                _, api_key = await create_key(
                    session, ctx, name="bench", permissions=sorted(system_role_permissions("owner")), expires_at=None
                )
    await engine.dispose()

    dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    rng = random.Random(11)
    per_org = rows // orgs
    generating = [0.0]

    def records_of(org_id) -> list[tuple]:
        t0 = time.perf_counter()
        out = []
        for n in range(per_org):
            tags = rng.sample(TAGS, rng.randint(0, 3)) + ([RARE_TAG] if rng.random() < 0.002 else [])
            title = " ".join(rng.sample(WORDS, 3)).capitalize() + f" {n}"
            body = " ".join(rng.choices(WORDS, k=24))
            out.append((org_id, KINDS[n % len(KINDS)], new_id(), None, title, body, json.dumps(tags), " ".join(tags)))
        generating[0] += time.perf_counter() - t0
        return out

    pending = list(org_ids)

    async def loader() -> None:
        # two connections, one per core: while PostgreSQL turns one organization's rows into tsvectors and index
        # entries, this process makes the next organization's rows
        conn = await asyncpg.connect(dsn)
        try:
            while pending:
                records = records_of(pending.pop())
                await conn.copy_records_to_table("search_index", records=records, columns=SEED_COLUMNS)
        finally:
            await conn.close()

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("TRUNCATE search_index")
        started = time.perf_counter()
        await asyncio.gather(loader(), loader())
        seed_seconds = time.perf_counter() - started
        await conn.execute("ANALYZE search_index")
        count = await conn.fetchval("SELECT count(*) FROM search_index")
    finally:
        await conn.close()
    return {
        "org_id": str(org_ids[0]),
        "api_key": api_key,
        "seed_seconds": seed_seconds,
        "generate_seconds": generating[0],
        "rows": count,
        "database_url": settings.database_url,
        "user_id": str(user.id),
    }


async def explain_and_time(seeded: dict, q: str, tags: list[str], rare: list[str], samples: int = 300) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS) of the app's own statements, and the raw statements' latency percentiles."""
    import asyncpg
    from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

    import webapp.models  # noqa: F401
    from webapp.core.tenancy import RequestContext
    from webapp.iam.catalog import system_role_permissions
    from webapp.search.queries import search_statement

    ctx = RequestContext(
        user_id=uuid.UUID(seeded["user_id"]),
        org_id=uuid.UUID(seeded["org_id"]),
        permissions=system_role_permissions("owner"),
    )
    out = {}
    conn = await asyncpg.connect(seeded["database_url"].replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for name, (stmt, values) in (
            ("two words", search_statement(ctx, q)),
            ("tag filter", search_statement(ctx, "", tags=tags)),
            ("rare tag filter", search_statement(ctx, "", tags=rare)),
        ):
            # the app's own statement, compiled for asyncpg with its bound values, run on a bare connection
            compiled = stmt.compile(dialect=asyncpg_dialect())
            values = compiled.params | values | {"page_limit": 21}
            processors = compiled._bind_processors
            args = [processors[n](values[n]) if n in processors else values[n] for n in compiled.positiontup]
            sql = compiled.string
            plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args))
            timings = []
            for _ in range(samples):
                t0 = time.perf_counter()
                await conn.fetch(sql, *args)
                timings.append((time.perf_counter() - t0) * 1000)
            timings.sort()
            out[name] = {
                "plan": plan,
                # the partitions' GIN indexes are named after their columns (search_index_p07_search_vector_idx)
                "gin": "search_vector_idx" in plan or "_tags_idx" in plan,
                "p50_ms": timings[len(timings) // 2],
                "p95_ms": timings[int(len(timings) * 0.95)],
            }
    finally:
        await conn.close()
    return out


def attachment_throughput(app_url: str, twin_url: str, seeded: dict, megabytes: int = 10, rounds: int = 7) -> dict:
    """Milliseconds to complete (the server re-reads and hashes) a fresh 10 MiB upload — on the app, on its raw
    twin (same store, hashing and SQL on bare asyncpg), and hashing the same bytes in-process. One client that keeps
    its connection, as a JSON client does; medians."""
    key = {"Authorization": f"Bearer {seeded['api_key']}"}
    timings: dict[str, list[float]] = {"app": [], "twin": [], "hash": []}
    with httpx.Client(headers=key, timeout=60) as client:

        def uploaded(name: str) -> tuple[str, bytes]:
            data = b"%PDF-1.4\n" + os.urandom(megabytes * 1024 * 1024 - 64)  # a PDF by its signature
            presigned = client.post(
                f"{app_url}/api/v1/attachments/presign",
                json={
                    "filename": f"{name}.pdf",
                    "mime_type": "application/pdf",
                    "size": len(data),
                    "checksum_sha256": hashlib.sha256(data).hexdigest(),
                },
            ).json()
            upload = presigned["upload"]
            sent = httpx.post(
                app_url + upload["url"], data=upload["fields"], files={"file": ("f.pdf", io.BytesIO(data))}
            )
            assert sent.status_code == 204, sent.text
            return presigned["attachment"]["id"], data

        for i in range(rounds):
            for side, url in (("app", app_url), ("twin", twin_url)):
                attachment_id, data = uploaded(f"{side}-{i}")
                t0 = time.perf_counter()
                done = client.post(f"{url}/api/v1/attachments/complete", json={"attachment_id": attachment_id})
                timings[side].append(time.perf_counter() - t0)
                assert done.status_code == 200 and done.json()["status"] == "ready", done.text
            t0 = time.perf_counter()
            hashlib.sha256(data).hexdigest()
            timings["hash"].append(time.perf_counter() - t0)
    size = megabytes * 1024 * 1024
    return {f"{side}_ms": statistics.median(t) * 1000 for side, t in timings.items()} | {
        f"{side}_mib_s": size / statistics.median(t) / 2**20 for side, t in timings.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--orgs", type=int, default=ORGS)
    parser.add_argument("--rows", type=int, default=ROWS)
    args = parser.parse_args()
    wrk = ensure_wrk()
    OUT.mkdir(parents=True, exist_ok=True)
    services = start_services()
    procs = []
    try:
        seeded = asyncio.run(seed(args.orgs, args.rows))
        app_url, base_url = start_web_pair(procs)
        key = {"Authorization": f"Bearer {seeded['api_key']}"}
        base = f"/api/v1/organizations/{seeded['org_id']}/search"
        words = f"{base}?q=regolith+sinter"
        tagged = f"{base}?tags=isru"
        rare = f"{base}?tags={RARE_TAG}"
        for path in (words, tagged, rare):  # the twin answers the same hits
            mine, theirs = httpx.get(app_url + path, headers=key).json(), httpx.get(base_url + path, headers=key).json()
            assert mine == theirs and mine["items"], (path, mine, theirs)
        run = lambda url: run_wrk(wrk, url, args.seconds, args.connections, key)  # noqa: E731
        results = {
            "search_words": run(app_url + words),
            "search_words_raw": run(base_url + words),
            "search_tag": run(app_url + tagged),
            "search_tag_raw": run(base_url + tagged),
            "search_rare": run(app_url + rare),
            "search_rare_raw": run(base_url + rare),
        }
        plans = asyncio.run(explain_and_time(seeded, "regolith sinter", ["isru"], [RARE_TAG]))
        files = attachment_throughput(app_url, base_url, seeded)
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        services.stop()

    labels = {
        "search_words": "(a) search JSON, two words",
        "search_words_raw": "(b) same SQL, raw asyncpg",
        "search_tag": "(c) search JSON, tag filter",
        "search_tag_raw": "(d) same SQL, raw asyncpg",
        "search_rare": f"(c') tag filter, rare tag ({RARE_TAG})",
        "search_rare_raw": "(d') same SQL, raw asyncpg",
    }
    ratios = {
        "two-word search (a)/(b)": results["search_words"]["rps"] / results["search_words_raw"]["rps"],
        "tag filter (c)/(d)": results["search_tag"]["rps"] / results["search_tag_raw"]["rps"],
        "rare tag filter (c')/(d')": results["search_rare"]["rps"] / results["search_rare_raw"]["rps"],
        "10 MiB complete / in-process hash": files["app_mib_s"] / files["hash_mib_s"],
        "10 MiB complete, twin / in-process hash": files["twin_mib_s"] / files["hash_mib_s"],
        "10 MiB complete, app / twin": files["app_mib_s"] / files["twin_mib_s"],
    }
    print(
        f"\nClosedLoop search benchmark: {seeded['rows']:,} search_index rows over {args.orgs} organizations seeded "
        f"with COPY in {seeded['seed_seconds']:.1f} s (of which {seeded['generate_seconds']:.1f} s making the rows in "
        f"Python); 1 web process, {args.connections} connections, "
        f"{args.seconds} s each\n"
    )
    print(f"{'target':<40}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    for name, r in results.items():
        print(f"{labels[name]:<40}{r['rps']:>10.0f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}{r['non_2xx']:>10}")
    print()
    for name, plan in plans.items():
        timing = f"p50 {plan['p50_ms']:.2f} ms, p95 {plan['p95_ms']:.2f} ms"
        print(f"(e) raw statement, {name}: {timing}, GIN used: {plan['gin']}")
        print("    " + plan["plan"].replace("\n", "\n    "))
    print(
        f"(f) complete of a 10 MiB file: {files['app_ms']:.1f} ms ({files['app_mib_s']:.0f} MiB/s); raw twin "
        f"{files['twin_ms']:.1f} ms ({files['twin_mib_s']:.0f} MiB/s); hashing it in-process: "
        f"{files['hash_ms']:.1f} ms ({files['hash_mib_s']:.0f} MiB/s)\n"
    )
    for name, value in ratios.items():
        target = "0.5" if "in-process" in name else "0.75"
        print(f"ratio {name:<34} = {value:.2f}   (target >= {target})")
    (OUT / "search.json").write_text(
        json.dumps(
            {
                "results": results,
                "ratios": ratios,
                "plans": plans,
                "attachments": files,
                "seed_seconds": seeded["seed_seconds"],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
