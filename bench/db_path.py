"""The database part of one API-key products request, in-process: our session path against the same statements on
raw asyncpg, measured in the same run (CPU per request of this process; PostgreSQL runs elsewhere).

Run as `python -m bench.db_path` (part of `make bench`). It splits our side into its phases (key lookup, membership,
list, commit and close) so a change to the request pipeline shows where it moved time. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time
import uuid

RAW_LIST = (
    "SELECT p.id, p.mission_id, p.product_type, p.quantity_kg, p.produced_at, p.recipe_id, p.kind, "
    "p.simulation_run_id, p.notes, p.created_at, p.updated_at, p.version, p.tags FROM products p "
    "JOIN missions m ON m.id = p.mission_id AND m.organization_id = p.organization_id "
    "LEFT JOIN processing_recipes r ON r.id = p.recipe_id "
    "WHERE p.organization_id = $1 AND p.deleted_at IS NULL AND m.deleted_at IS NULL "
    "ORDER BY p.produced_at DESC, p.id DESC LIMIT 26"
)


async def measure(seeded: dict, requests: int) -> dict:
    """CPU ms per request for both paths (two rounds each, the better kept) and our phases."""
    import asyncpg

    from webapp.apikeys.service import authenticate_key
    from webapp.config import load_settings
    from webapp.core.db import make_engine, make_sessionmaker
    from webapp.core.tenancy import RequestContext
    from webapp.core.transaction import _end
    from webapp.organizations.queries import enter_membership
    from webapp.simulations import queries

    settings = load_settings()
    engine = make_engine(settings.database_url, settings.app_db_role)
    maker = make_sessionmaker(engine)
    dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    pool = await asyncpg.create_pool(dsn, min_size=4, max_size=10, server_settings={"role": settings.app_db_role})
    org_id, key = uuid.UUID(seeded["org_id"]), seeded["api_key"]
    phases = [0.0] * 4
    clock = time.process_time

    async def ours() -> None:
        start = clock()
        session = maker()
        principal = await authenticate_key(session, RequestContext(), key)
        looked_up = clock()
        await enter_membership(session, user_id=principal.user_id, org_id=principal.org_id)
        entered = clock()
        page = await queries.list_products(
            session, org_id, mission_id=None, product_type=None, kind=None, q=None, sort=None, cursor=None, limit=25
        )
        listed = clock()
        await session.run_sync(_end, True)  # what end_request_transaction does
        assert len(page.items) == 25
        for i, spent in enumerate((looked_up - start, entered - looked_up, listed - entered, clock() - listed)):
            phases[i] += spent

    async def raw() -> None:
        async with pool.acquire() as conn, conn.transaction():
            digest = hashlib.sha256(key.encode()).digest()
            await conn.execute("SELECT set_config('app.credential', $1, true)", digest.hex())
            row = await conn.fetchrow(
                "SELECT id, organization_id, user_id, permissions FROM api_keys WHERE key_hash = $1 AND enabled "
                "AND deleted_at IS NULL AND (expires_at IS NULL OR expires_at > now())",
                digest,
            )
            await conn.execute(
                "SELECT set_config('app.user_id', $1, true), set_config('app.org_id', $2, true)",
                str(row["user_id"]),
                str(org_id),
            )
            await conn.fetchrow(
                "SELECT r.key, r.is_system, r.permissions FROM memberships m JOIN roles r "
                "ON r.id = m.role_id WHERE m.organization_id = $1 AND m.user_id = $2 "
                "AND m.deleted_at IS NULL",
                org_id,
                row["user_id"],
            )
            assert len(await conn.fetch(RAW_LIST, org_id)) == 26

    try:
        for path in (ours, raw):
            for _ in range(100):
                await path()
        phases[:] = [0.0] * 4
        best = {"ours": float("inf"), "raw": float("inf")}
        for path in (ours, raw, ours, raw):
            start = clock()
            for _ in range(requests):
                await path()
            best[path.__name__] = min(best[path.__name__], (clock() - start) / requests * 1000)
    finally:
        await pool.close()
        await engine.dispose()
    best["phases"] = [spent / (2 * requests) * 1000 for spent in phases]
    return best


def main() -> None:
    """Seed a small organization, then time both paths on uvloop."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    args, _ = parser.parse_known_args()
    import uvloop

    from bench.http import start_services
    from bench.missions import seed

    services = start_services()
    try:
        result = uvloop.run(measure(asyncio.run(seed(200, 2000)), args.requests))
    finally:
        services.stop()
    key, membership, listing, end = result["phases"]
    print(f"DB part of one API-key products request, CPU of this process per request ({args.requests} requests):")
    print(
        f"  ours (SQLAlchemy session) {result['ours']:.3f} ms = key {key:.3f} + membership {membership:.3f} "
        f"+ list {listing:.3f} + commit/close {end:.3f}"
    )
    print(f"  raw asyncpg, same statements {result['raw']:.3f} ms; ratio raw/ours {result['raw'] / result['ours']:.2f}")


if __name__ == "__main__":
    main()
