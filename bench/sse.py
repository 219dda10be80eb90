"""SSE fan-out: N concurrent subscribers of one run on one web process (issue 5: 2,000 subscribers all receive a
progress event, p99 delivery ≤ 250 ms, memory per idle stream reported).

Run as `python -m bench.sse` (part of `make bench`). The baseline, measured in the same run, is the same event
delivered to a single subscriber; the ratio says what fan-out costs. Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import statistics
import sys
import time
from pathlib import Path

from bench.http import OUT, start, start_services, wait_http

PORT = 8767


async def seed() -> dict:
    """An organization, a mission, a queued run (no worker takes it) and an API key that may read it."""
    from sqlalchemy import insert

    from webapp.apikeys.service import create_key
    from webapp.config import load_settings
    from webapp.core.db import make_engine, make_sessionmaker
    from webapp.core.ids import new_id
    from webapp.core.tenancy import RequestContext, scope_session
    from webapp.core.transaction import unit_of_work
    from webapp.iam.catalog import system_role_permissions
    from webapp.identity.service import create_user
    from webapp.missions.models import Mission
    from webapp.organizations.service import create_organization
    from webapp.simulations.models import SimulationRun

    settings = load_settings()
    engine = make_engine(settings.database_url, settings.app_db_role, pool_size=2)
    stamp = int(time.time())
    async with unit_of_work(make_sessionmaker(engine)) as session:
        user = await create_user(
            session, None, email=f"sse-{stamp}@example.org", name="SSE Bench", password="bench-password-123"
        )
        org = await create_organization(session, None, slug=f"sse-{stamp}", name="SSE Base", owner_id=user.id)
        await scope_session(session, org_id=org.id, user_id=user.id)
        mission_id, run_id = new_id(), new_id()
        await session.execute(
            insert(Mission).values(
                id=mission_id, organization_id=org.id, name="Fan-out", destination="moon", crew_size=4
            )
        )
        await session.execute(
            insert(SimulationRun).values(
                id=run_id,
                organization_id=org.id,
                mission_id=mission_id,
                name="Watched",
                run_type="monte_carlo",
                config={},
                input_snapshot={},
                engine_version="bench",
                seed=1,
            )
        )
        ctx = RequestContext(
            user_id=user.id,
            org_id=org.id,
            org_slug=org.slug,
            role="owner",
            permissions=system_role_permissions("owner"),
        )
        _, api_key = await create_key(session, ctx, name="sse", permissions=["simulations:read"], expires_at=None)
    await engine.dispose()
    return {
        "run_id": str(run_id),
        "mission_id": str(mission_id),
        "api_key": api_key,
        "namespace": settings.redis_namespace,
    }


class Subscriber:
    """One raw HTTP/1.1 SSE connection; records when each published progress value arrives."""

    def __init__(self, path: str, key: str):
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        ).encode()
        self.arrivals: dict[int, float] = {}
        self.ready = asyncio.Event()

    async def run(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", PORT, limit=1 << 20)
        writer.write(self.request)
        await writer.drain()
        try:
            while True:
                chunk = await reader.read(1 << 16)  # whole reads, no line splitting: the client must stay cheap
                if not chunk:
                    return
                at = time.perf_counter()
                start = chunk.find(b'"progress": ')
                while start >= 0:
                    start += 12
                    self.arrivals.setdefault(int(chunk[start : chunk.index(b",", start)]), at)
                    self.ready.set()
                    start = chunk.find(b'"progress": ', start)
        finally:
            writer.close()


def rss_kb(pid: int) -> int:
    """Resident memory of a process (the web's uvicorn), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def measure(count: int, seeded: dict, redis, events: int, web_pid: int) -> dict:
    """Open `count` streams, publish `events` progress values, return delivery latencies and memory."""
    from webapp.simulations.events import run_channel

    path = f"/api/v1/simulations/{seeded['run_id']}/subscribe"
    before = rss_kb(web_pid)
    subscribers = [Subscriber(path, seeded["api_key"]) for _ in range(count)]
    tasks = []
    for i in range(0, count, 200):  # open in waves, as browsers would over a few seconds
        batch = subscribers[i : i + 200]
        tasks += [asyncio.create_task(s.run()) for s in batch]
        await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in batch)), 60)
    await asyncio.sleep(1)
    idle = rss_kb(web_pid)
    channel = run_channel(seeded["namespace"], seeded["run_id"])
    sent: dict[int, float] = {}
    for progress in range(1, events + 1):
        payload = {
            "id": seeded["run_id"],
            "mission_id": seeded["mission_id"],
            "status": "running",
            "progress": progress,
            "message": "",
            "attempt": 1,
            "error": None,
            "finished": False,
            "logs": [],
        }
        sent[progress] = time.perf_counter()
        await redis.publish(channel, json.dumps(payload))
        await asyncio.sleep(0.5)
    await asyncio.sleep(2)
    latencies = [(s.arrivals[p] - sent[p]) * 1000 for s in subscribers for p in sent if p in s.arrivals]
    delivered = sum(1 for s in subscribers if all(p in s.arrivals for p in sent))
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies.sort()
    return {
        "subscribers": count,
        "all_events": delivered,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
        "max_ms": latencies[-1],
        "rss_kb_per_idle_stream": (idle - before) / count,
    }


def main() -> None:
    """Start the services and one web process, then measure 1 and N subscribers."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--events", type=int, default=5)
    args, _ = parser.parse_known_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.subscribers + 1024)), hard))
    OUT.mkdir(parents=True, exist_ok=True)
    services = start_services()
    procs = []
    try:
        seeded = asyncio.run(seed())
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
        procs.append(
            start(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--loop",
                    "uvloop",
                    "--http",
                    "httptools",
                    "--no-access-log",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(PORT),
                    "webapp.asgi:app",
                ],
                env,
                OUT / "sse-web.log",
            )
        )
        wait_http(f"http://127.0.0.1:{PORT}/health")

        async def both():
            from webapp.core.pubsub import make_redis

            redis = make_redis(os.environ["REDIS_URL"])
            try:
                one = await measure(1, seeded, redis, args.events, procs[0].pid)
                many = await measure(args.subscribers, seeded, redis, args.events, procs[0].pid)
            finally:
                await redis.aclose()
            return one, many

        one, many = asyncio.run(both())
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        services.stop()
    print(f"{'subscribers':>11} {'got all':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'KB/idle stream':>15}")
    for row in (one, many):
        print(
            f"{row['subscribers']:>11} {row['all_events']:>8} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} "
            f"{row['max_ms']:>8.1f} {row['rss_kb_per_idle_stream']:>15.1f}"
        )
    print(
        f"p99 ratio {many['subscribers']} vs 1 subscriber: {many['p99_ms'] / max(one['p99_ms'], 0.001):.1f}; "
        f"target p99 ≤ 250 ms: {'ok' if many['p99_ms'] <= 250 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
