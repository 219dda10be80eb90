"""The measurements a system check runs: each returns ok + a one-line finding a person can act on."""

from __future__ import annotations

import os
import socket
import statistics
import time
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

ROUND_TRIPS = 20
WORKER_FRESH_SECONDS = 30
SCHEDULER_FRESH_SECONDS = 60


@dataclass
class Finding:
    """Outcome of one step."""

    ok: bool
    detail: str
    elapsed_ms: float


def workers_key(namespace: str) -> str:
    """Sorted set of worker ids scored by their last heartbeat (unix seconds)."""
    return f"{namespace}:workers"


def scheduler_tick_key(namespace: str) -> str:
    """Unix time of the last scheduler tick a worker executed."""
    return f"{namespace}:scheduler:last_tick"


def worker_identity() -> str:
    """host:pid of this worker process."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def heartbeat_worker(redis, namespace: str) -> None:
    """Record that this worker is alive and drop entries nobody refreshed for long."""
    now = time.time()
    key = workers_key(namespace)
    await redis.zadd(key, {worker_identity(): now})
    await redis.zremrangebyscore(key, 0, now - 10 * WORKER_FRESH_SECONDS)


async def live_workers(redis, namespace: str) -> int:
    """Workers whose heartbeat is fresh."""
    return await redis.zcount(workers_key(namespace), time.time() - WORKER_FRESH_SECONDS, "+inf")


async def scheduler_age(redis, namespace: str) -> float | None:
    """Seconds since the last scheduler tick, None if there never was one."""
    raw = await redis.get(scheduler_tick_key(namespace))
    return None if raw is None else max(0.0, time.time() - float(raw))


def _ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.2f} ms"


async def probe_postgres(session: AsyncSession) -> Finding:
    """Version, round-trip latency, and proof that the app role cannot bypass RLS."""
    start = time.perf_counter()
    try:
        row = (
            await session.execute(
                text(
                    "SELECT current_setting('server_version'), current_user, r.rolsuper, r.rolbypassrls "
                    "FROM pg_roles r WHERE r.rolname = current_user"
                )
            )
        ).one()
        samples = []
        for _ in range(ROUND_TRIPS):
            t0 = time.perf_counter()
            await session.execute(text("SELECT 1"))
            samples.append(time.perf_counter() - t0)
    except Exception as exc:  # the finding is the point: report, don't crash the check
        return Finding(False, f"PostgreSQL unreachable: {type(exc).__name__}: {exc}"[:300], _elapsed(start))
    version, role, superuser, bypass = row
    if superuser or bypass:
        return Finding(False, f"PostgreSQL {version}: role {role} can bypass row-level security", _elapsed(start))
    return Finding(
        True,
        f"PostgreSQL {version} · {ROUND_TRIPS} round trips, median {_ms(samples)} · role {role}, RLS enforced",
        _elapsed(start),
    )


async def probe_redis(redis) -> Finding:
    """Version and PING latency."""
    start = time.perf_counter()
    try:
        info = await redis.info("server")
        samples = []
        for _ in range(ROUND_TRIPS):
            t0 = time.perf_counter()
            await redis.ping()
            samples.append(time.perf_counter() - t0)
    except Exception as exc:
        return Finding(False, f"Redis unreachable: {type(exc).__name__}: {exc}"[:300], _elapsed(start))
    return Finding(
        True, f"Redis {info.get('redis_version', '?')} · {ROUND_TRIPS} pings, median {_ms(samples)}", _elapsed(start)
    )


async def probe_workers(redis, namespace: str, queue_name: str) -> Finding:
    """Live workers and how much work waits in the task stream."""
    start = time.perf_counter()
    workers = await live_workers(redis, namespace)
    pending = lag = 0
    if await redis.exists(queue_name):
        for group in await redis.xinfo_groups(queue_name):
            pending += int(group.get("pending", 0))
            lag += int(group.get("lag") or 0)
    noun = "worker" if workers == 1 else "workers"
    detail = f"{workers} {noun} alive · queue: {lag} waiting, {pending} in progress"
    return Finding(workers >= 1, detail if workers else "no worker heartbeat in the last 30 s", _elapsed(start))


async def probe_scheduler(redis, namespace: str) -> Finding:
    """Whether the scheduler's periodic tick reached a worker recently."""
    start = time.perf_counter()
    age = await scheduler_age(redis, namespace)
    if age is None:
        return Finding(False, "the scheduler has never ticked: is `taskiq scheduler` running?", _elapsed(start))
    if age > SCHEDULER_FRESH_SECONDS:
        return Finding(False, f"last scheduler tick {age:.0f} s ago (expected every 15 s)", _elapsed(start))
    return Finding(True, f"last scheduler tick {age:.0f} s ago", _elapsed(start))


def _elapsed(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
