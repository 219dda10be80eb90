"""Missions and products at scale: one organization with 10,000 missions and 100,000 products.

Run as `make bench` (after bench.http) or `python -m bench.missions`.
(a) the missions list page, first 25 of 10,000 by newest; (b) the same on raw asyncpg
(c) a filtered search: word prefix + status; (d) the same on raw asyncpg
(e) the products JSON list with an API key, newest 25 of 100,000; (f) the same on raw asyncpg
Seeding uses COPY and its time is printed. Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx

from bench.http import (
    OUT,
    ensure_wrk,
    login_cookie,
    paired,
    raise_api_limits,
    run_wrk,
    session_cookie_name,
    start_services,
    start_web_pair,
)

WORDS = (
    "alpha",
    "basalt",
    "cinder",
    "dune",
    "ember",
    "frost",
    "gale",
    "helix",
    "ion",
    "jezero",
    "kepler",
    "lumen",
    "mare",
    "nadir",
    "orbit",
    "perigee",
    "quartz",
    "regolith",
    "sable",
    "tycho",
)
STATUSES = ("planning", "active", "completed", "aborted")
DESTINATIONS = ("moon", "mars", "transit")
PRODUCTS = ("brick", "filament", "water", "methane", "hmc_tile", "insulation", "oxygen")


async def seed(missions: int, products: int) -> dict:
    """The owner, organization and API key through the services; missions and products with COPY."""
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
    from webapp.privacy import consents
    from webapp.privacy.enums import ConsentMethod

    settings = load_settings()
    engine = make_engine(settings.database_url, settings.app_db_role, pool_size=2)
    stamp = int(time.time())
    email, password, slug = f"fleet-{stamp}@example.org", "bench-password-123", f"fleet-{stamp}"
    async with unit_of_work(make_sessionmaker(engine)) as session:
        user = await create_user(session, None, email=email, name="Fleet Planner", password=password)
        org = await create_organization(session, None, slug=slug, name="Fleet Base", owner_id=user.id)
        await consents.accept_due(session, None, user.id, ConsentMethod.SIGNUP)  # as sign-up does (we sign in)
        await scope_session(session, org_id=org.id, user_id=user.id)
        ctx = RequestContext(
            user_id=user.id, org_id=org.id, org_slug=slug, role="owner", permissions=system_role_permissions("owner")
        )
        _, api_key = await create_key(session, ctx, name="bench", permissions=["products:read"], expires_at=None)
    await engine.dispose()

    started = time.perf_counter()
    rng = random.Random(7)
    now = datetime.now(UTC)
    mission_rows = []
    for i in range(missions):
        created = now - timedelta(minutes=i)
        launch = created + timedelta(days=rng.randint(30, 900))
        words = " ".join(rng.sample(WORDS, 2))
        mission_rows.append(
            (
                new_id(),
                org.id,
                f"Mission {i:05d} {words}",
                f"Crewed {words} campaign",
                rng.choice(STATUSES),
                rng.choice(DESTINATIONS),
                rng.randint(2, 8),
                launch,
                launch + timedelta(days=180),
                Decimal("5"),
                Decimal("60"),
                Decimal("2"),
                Decimal("60"),
                created,
                created,
                user.id,
            )
        )
    product_rows = [
        (
            new_id(),
            org.id,
            mission_rows[rng.randrange(missions)][0],
            rng.choice(PRODUCTS),
            Decimal(rng.randint(1, 50000)) / 100,
            now - timedelta(seconds=i * 30),
            "recorded",
            f"batch {i}",
            user.id,
        )
        for i in range(products)
    ]
    dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute(
                "SELECT set_config('app.org_id', $1, true), set_config('app.user_id', $2, true)",
                str(org.id),
                str(user.id),
            )
            await conn.copy_records_to_table(
                "missions",
                records=mission_rows,
                columns=[
                    "id",
                    "organization_id",
                    "name",
                    "description",
                    "status",
                    "destination",
                    "crew_size",
                    "launch_date",
                    "landing_date",
                    "recycle_target_kg_per_day",
                    "energy_budget_kwh_per_day",
                    "crew_time_h_per_day",
                    "regolith_supply_kg_per_day",
                    "created_at",
                    "updated_at",
                    "created_by",
                ],
            )
            await conn.copy_records_to_table(
                "products",
                records=product_rows,
                columns=[
                    "id",
                    "organization_id",
                    "mission_id",
                    "product_type",
                    "quantity_kg",
                    "produced_at",
                    "kind",
                    "notes",
                    "created_by",
                ],
            )
        await conn.execute("ANALYZE missions; ANALYZE products")
    finally:
        await conn.close()
    return {
        "email": email,
        "password": password,
        "slug": slug,
        "org_id": str(org.id),
        "api_key": api_key,
        "seed_seconds": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--missions", type=int, default=10_000)
    parser.add_argument("--products", type=int, default=100_000)
    args = parser.parse_args()
    wrk = ensure_wrk()
    OUT.mkdir(parents=True, exist_ok=True)

    services = start_services()
    procs = []
    try:
        seeded = asyncio.run(seed(args.missions, args.products))
        asyncio.run(raise_api_limits())
        app_url, base_url = start_web_pair(procs)
        cookie_name = session_cookie_name()
        cookie = {"Cookie": login_cookie(app_url, seeded["email"], seeded["password"], cookie_name)}
        missions_page = f"/o/{seeded['slug']}/missions"
        search = f"{missions_page}?q=jez&status=active"
        products = f"/api/v1/organizations/{seeded['org_id']}/products"
        key = {"Authorization": f"Bearer {seeded['api_key']}"}
        for path in (missions_page, search):  # both render the same rows
            real_rows = httpx.get(app_url + path, headers=cookie).text.count('<tr id="mission-')
            assert real_rows == httpx.get(base_url + path, headers=cookie).text.count('<tr id="mission-') > 0, path
        assert httpx.get(app_url + products, headers=key).json() == httpx.get(base_url + products, headers=key).json()
        run = lambda url, headers: run_wrk(wrk, url, args.seconds, args.connections, headers)  # noqa: E731
        pids = {app_url: procs[0].pid, base_url: procs[1].pid}
        measured = lambda url, headers: run_wrk(  # noqa: E731
            wrk, url, args.seconds, args.connections, headers, pid=pids[url.split("/api/")[0]]
        )
        products_json = paired(measured, app_url + products, base_url + products, key)
        results = {
            "missions_page": run(app_url + missions_page, cookie),
            "missions_page_raw": run(base_url + missions_page, cookie),
            "missions_search": run(app_url + search, cookie),
            "missions_search_raw": run(base_url + search, cookie),
            "products_json": products_json[0],
            "products_json_raw": products_json[1],
        }
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        services.stop()

    labels = {
        "missions_page": f"(a) missions page, 25 of {args.missions:,}",
        "missions_page_raw": "(b) same page, raw asyncpg",
        "missions_search": "(c) search 'jez' + status=active",
        "missions_search_raw": "(d) same search, raw asyncpg",
        "products_json": f"(e) products JSON, 25 of {args.products:,}",
        "products_json_raw": "(f) same JSON, raw asyncpg",
    }
    ratios = {
        "missions page (a)/(b)": results["missions_page"]["rps"] / results["missions_page_raw"]["rps"],
        "filtered search (c)/(d)": results["missions_search"]["rps"] / results["missions_search_raw"]["rps"],
        "products JSON (e)/(f)": results["products_json"]["rps"] / results["products_json_raw"]["rps"],
    }
    print(
        f"\nClosedLoop missions benchmark: {args.missions:,} missions, {args.products:,} products seeded with COPY "
        f"in {seeded['seed_seconds']:.1f} s; 1 web process, {args.connections} connections, {args.seconds} s each\n"
    )
    print(f"{'target':<40}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    for name, r in results.items():
        print(f"{labels[name]:<40}{r['rps']:>10.0f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}{r['non_2xx']:>10}")
    print()
    for name, value in ratios.items():
        print(f"ratio {name:<34} = {value:.2f}   (target >= 0.75; p99 target < 100 ms)")
    ours, twin = (results[k]["cpu_ms_per_request"] for k in ("products_json", "products_json_raw"))
    print(f"products JSON, server CPU per request: ours {ours:.3f} ms, twin {twin:.3f} ms, ratio {twin / ours:.2f}")
    (OUT / "missions.json").write_text(
        json.dumps(
            {
                "results": results,
                "ratios": ratios,
                "seed_seconds": seeded["seed_seconds"],
                "connections": args.connections,
                "seconds": args.seconds,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
