"""Running a simulation on a worker: claim with a fencing attempt, heartbeat and progress, results exactly once.

The engine is CPU-bound and pure, so it runs in a thread; this coroutine watches it: every tick it writes progress
and log lines (throttled), heartbeats, and learns of cancellation or of a newer attempt having taken the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webapp.catalog.enums import Resource
from webapp.core import audit
from webapp.core.ids import new_id
from webapp.core.pubsub import publish_json
from webapp.core.tenancy import enable_rls_bypass, scope_session
from webapp.core.transaction import after_commit, unit_of_work
from webapp.simulations.engine import STUDIES, Cancelled, EngineError, simulate
from webapp.simulations.enums import LogLevel, ProductKind, RunStatus
from webapp.simulations.events import (
    cancel_channel,
    mission_runs_channel,
    org_runs_channel,
    run_channel,
    run_payload,
)
from webapp.simulations.models import Product, SimulationLog, SimulationRun
from webapp.simulations.service import webhooks
from webapp.simulations.service.runs import hold_subject
from webapp.usage import credits, ingest, pricing

log = logging.getLogger(__name__)
TICK_SECONDS = 0.2
WRITE_EVERY_SECONDS = 0.5
# well inside SIMULATION_STALE_SECONDS, so a live run is never mistaken for a dead one
HEARTBEAT_SECONDS = 2.0
PUBLISH_TIMEOUT_SECONDS = 1.0
SUMMARY_KEYS = (
    "target_kg",
    "recycling_rate",
    "waste_processed_kg",
    "waste_stored_kg",
    "energy_kwh",
    "water_recovered_kg",
    "waste_derived_share",
)


class _Watch:
    """What the engine thread and the watching coroutine share."""

    def __init__(self):
        self.lock = threading.Lock()
        self.fraction = 0.0
        self.lines: list[str] = []
        self.stop = threading.Event()

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Engine callback (engine thread): note progress; raise Cancelled once asked to stop."""
        with self.lock:
            self.fraction = max(self.fraction, min(fraction, 1.0))
            if message:
                self.lines.append(message[:2000])
        if self.stop.is_set():
            raise Cancelled()

    def take(self) -> tuple[int, list[str]]:
        with self.lock:
            lines, self.lines = self.lines, []
            return min(99, int(self.fraction * 100)), lines


async def _listen_for_cancel(redis, namespace: str, run_id: uuid.UUID, watch: _Watch) -> None:
    """Stop the engine the moment someone cancels the run. The heartbeat's read of the row notices too, within
    HEARTBEAT_SECONDS: this only makes it immediate while Redis is there."""
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe(cancel_channel(namespace, run_id))
        async for _ in pubsub.listen():
            watch.stop.set()
            return
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - Redis trouble only costs the fast path
        log.info("cancel listener stopped: %s", exc)
    finally:
        with contextlib.suppress(Exception):
            await pubsub.aclose()


async def _publish(redis, namespace: str, payload: dict) -> None:
    # Redis is only the messenger: Postgres has the state, so a lost message costs a redraw, not a result
    try:
        async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):  # a Redis that hangs must not stall the heartbeat
            await publish_json(redis, run_channel(namespace, payload["id"]), payload)
            await publish_json(redis, mission_runs_channel(namespace, payload["mission_id"]), payload)
            await publish_json(redis, org_runs_channel(namespace, payload["org_id"]), payload)
    except Exception as exc:  # noqa: BLE001 - any Redis failure is survivable here
        log.warning("could not publish run progress: %s", exc)


def _log_rows(org_id, run_id, attempt: int, lines: list[str], level: LogLevel, progress: int | None) -> list[dict]:
    return [
        {
            "id": new_id(),
            "organization_id": org_id,
            "run_id": run_id,
            "attempt": attempt,
            "level": level,
            "message": line,
            "progress_percent": progress,
        }
        for line in lines
    ]


async def _claim(session: AsyncSession, org_id, run_id, stale: timedelta) -> SimulationRun | None:
    """Take the run: queued, or running with a dead heartbeat. Bumps the attempt (our fencing token)."""
    return (
        await session.execute(
            update(SimulationRun)
            .where(
                SimulationRun.id == run_id,
                SimulationRun.organization_id == org_id,
                SimulationRun.deleted_at.is_(None),
                (SimulationRun.status == RunStatus.QUEUED)
                | ((SimulationRun.status == RunStatus.RUNNING) & (SimulationRun.heartbeat_at < func.now() - stale)),
            )
            .values(
                status=RunStatus.RUNNING,
                attempt=SimulationRun.attempt + 1,
                heartbeat_at=func.now(),
                started_at=func.coalesce(SimulationRun.started_at, func.now()),
                progress_percent=0,
                progress_message="Starting.",
                version=SimulationRun.version + 1,
            )
            .returning(SimulationRun)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()


async def _write(
    maker, org_id, run_id, attempt: int, values: dict, lines: list[str] = (), level: LogLevel = LogLevel.INFO
) -> SimulationRun | None:
    """Update the run while we hold its attempt, with log lines, in one transaction; None when fenced out. A run
    that ends here (cancelled or failed) gives its credit hold back in the same transaction."""
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=org_id)
        run = (
            await session.execute(
                update(SimulationRun)
                .where(
                    SimulationRun.id == run_id,
                    SimulationRun.organization_id == org_id,
                    SimulationRun.attempt == attempt,
                    SimulationRun.status == RunStatus.RUNNING,
                )
                .values(heartbeat_at=func.now(), version=SimulationRun.version + 1, **values)
                .returning(SimulationRun)
                .execution_options(synchronize_session=False)
            )
        ).scalar_one_or_none()
        if run is not None and lines:
            await session.execute(
                insert(SimulationLog), _log_rows(org_id, run_id, attempt, list(lines), level, run.progress_percent)
            )
        if run is not None and run.status.is_final:
            await credits.release(session, org_id, hold_subject(run_id))
            await webhooks.run_finished(session, run)
        return run


def _products(run: SimulationRun, results: dict, org_id) -> list[dict]:
    """The plan's products: one row per recipe, final product (not an intermediate a later recipe uses) and day the
    plan schedules batches, dated that day. They are planned, never counted as made."""
    consumed = {key for r in run.input_snapshot["recipes"] for key in r["inputs"]}
    product_types = {p.value for p in Resource if p.is_product}
    start = date.fromisoformat(run.input_snapshot["start_date"])
    rows = []
    for recipe in run.input_snapshot["recipes"]:
        batches = results["batches"].get(recipe["key"], [])
        for item, per_batch in recipe["outputs"].items():
            if item not in product_types or item in consumed:
                continue
            for day, count in enumerate(batches):
                quantity = (Decimal(str(count)) * Decimal(str(per_batch))).quantize(Decimal("0.0001"))
                if quantity <= 0:
                    continue
                rows.append(
                    {
                        "id": new_id(),
                        "organization_id": org_id,
                        "mission_id": run.mission_id,
                        "product_type": Resource(item),
                        "quantity_kg": quantity,
                        "produced_at": datetime.combine(start + timedelta(days=day), datetime.min.time(), UTC),
                        "recipe_id": uuid.UUID(recipe["id"]) if recipe.get("id") else None,
                        "kind": ProductKind.PLANNED,
                        "simulation_run_id": run.id,
                        "notes": f"Planned by run “{run.name}”, day {day + 1} of {results['days']}.",
                    }
                )
    return rows


def summarise(results: dict) -> dict:
    """The few figures lists show without loading the results."""
    summary = {k: results["kpis"][k] for k in SUMMARY_KEYS}
    if "monte_carlo" in results:
        mc = results["monte_carlo"]
        summary |= {
            "target_p10": mc["kpis"]["target_kg"]["p10"],
            "target_p50": mc["kpis"]["target_kg"]["p50"],
            "target_p90": mc["kpis"]["target_kg"]["p90"],
            "probability_recycling_target": mc["probability_recycling_target"],
        }
    return summary


def _finish_lines(results: dict) -> list[str]:
    return [
        f"Finished: {results['kpis']['target_kg']:.1f} kg {results['target']}, "
        f"recycling rate {results['kpis']['recycling_rate']:.0%}."
    ] + [f"Warning: {w}" for w in results.get("warnings", [])]


def _simulate_timed(snapshot: dict, run_type: str, config: dict, progress) -> tuple[dict, float]:
    """The engine on this thread, with the CPU-seconds it spent (this thread's and its process pool's: a Monte
    Carlo's chunks, a large trade study's points)."""
    start = time.thread_time()
    results = simulate(snapshot, run_type, config, progress)
    pool = sum((results.get(part) or {}).get("pool_cpu_seconds", 0.0) for part in ("monte_carlo", "trade_study"))
    return results, time.thread_time() - start + pool


async def _meter(session: AsyncSession, run: SimulationRun, results: dict, cpu_seconds: float) -> None:
    """ClosedLoop's own usage of a finished run, through the same path as every service's (keyed by the run, so a
    second writer records nothing more)."""
    scenarios = (results.get("monte_carlo") or {}).get("scenarios", 0)
    when, org, key = datetime.now(UTC).isoformat(), str(run.organization_id), f"simulation_run:{run.id}"
    events = [
        {"transaction_id": key, "organization_id": org, "code": "simulation_runs", "timestamp": when,
         "properties": {"run_type": str(run.run_type)}},
        {"transaction_id": f"{key}:cpu", "organization_id": org, "code": "engine_cpu_seconds", "timestamp": when,
         "quantity": str(round(Decimal(cpu_seconds), 3))},
    ]  # fmt: skip
    if scenarios:
        events.append({"transaction_id": f"{key}:scenarios", "organization_id": org, "timestamp": when,
                       "code": "monte_carlo_scenarios", "quantity": scenarios})  # fmt: skip
    if run.created_by:
        events.append({"transaction_id": f"{key}:user", "organization_id": org, "timestamp": when,
                       "code": "active_users", "properties": {"user_id": str(run.created_by)}})  # fmt: skip
    outcome = await ingest.record(session, events)
    if outcome.rejected:  # our own events: a rejection is a bug to hear about, not a reason to lose the results
        log.error("run usage not recorded", extra={"run_id": str(run.id), "rejected": repr(outcome.rejected)})


async def _succeed(
    maker, run: SimulationRun, attempt: int, results: dict, cpu_seconds: float = 0.0
) -> SimulationRun | None:
    """Results, products and metered usage in one transaction, only while our attempt holds the run: exactly
    once."""
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=run.organization_id)
        done = (
            await session.execute(
                update(SimulationRun)
                .where(
                    SimulationRun.id == run.id,
                    SimulationRun.organization_id == run.organization_id,
                    SimulationRun.attempt == attempt,
                    SimulationRun.status == RunStatus.RUNNING,
                )
                .values(
                    status=RunStatus.SUCCEEDED,
                    progress_percent=100,
                    results=results,
                    summary=summarise(results),
                    finished_at=func.now(),
                    heartbeat_at=func.now(),
                    progress_message="Done.",
                    version=SimulationRun.version + 1,
                )
                .returning(SimulationRun)
                .execution_options(synchronize_session=False)
            )
        ).scalar_one_or_none()
        if done is None:
            return None
        if results["run_type"] not in STUDIES:  # studies and risk runs plan no products
            rows = _products(done, results, run.organization_id)
            if rows:
                # the unique (run, recipe, product, day) index makes a second writer a no-op, whatever happens above
                await session.execute(
                    pg_insert(Product).on_conflict_do_nothing(
                        index_elements=["simulation_run_id", "recipe_id", "product_type", "produced_at"],
                        index_where=Product.simulation_run_id.isnot(None),
                    ),
                    rows,
                )
        await session.execute(
            insert(SimulationLog),
            _log_rows(run.organization_id, run.id, attempt, _finish_lines(results), LogLevel.INFO, 100),
        )
        await _meter(session, done, results, cpu_seconds)
        await credits.settle(session, run.organization_id, hold_subject(run.id), pricing.actual(cpu_seconds))
        await webhooks.run_finished(session, done)
        return done


async def execute_run(
    maker: async_sessionmaker,
    redis,
    namespace: str,
    org_id: uuid.UUID,
    run_id: uuid.UUID,
    stale: timedelta = timedelta(seconds=60),
) -> RunStatus | None:
    """Run one simulation end to end; safe to call twice for one run (the second finds nothing to claim)."""
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=org_id)
        run = await _claim(session, org_id, run_id, stale)
        if run is None:
            log.info("simulation run not claimable (done, running elsewhere, or gone)", extra={"run_id": str(run_id)})
            return None
        attempt = run.attempt
        where = f"Attempt {attempt} on {socket.gethostname()} (pid {os.getpid()})."
        await session.execute(insert(SimulationLog), _log_rows(org_id, run_id, attempt, [where], LogLevel.INFO, 0))
    await _publish(redis, namespace, run_payload(run, [{"level": "info", "message": where}]))

    watch = _Watch()
    listener = asyncio.create_task(_listen_for_cancel(redis, namespace, run_id, watch))
    try:
        return await _follow(maker, redis, namespace, org_id, run, watch)
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener


async def _follow(
    maker, redis, namespace: str, org_id: uuid.UUID, run: SimulationRun, watch: _Watch
) -> RunStatus | None:
    """Run the engine on a thread and write its progress, heartbeat and end while our attempt holds the run."""
    run_id, attempt = run.id, run.attempt
    config = dict(run.config, seed=run.seed)
    engine = asyncio.ensure_future(
        asyncio.to_thread(_simulate_timed, run.input_snapshot, str(run.run_type), config, watch.progress)
    )
    last_write, last_percent, fenced = 0.0, -1, False
    while not engine.done():
        await asyncio.wait({engine}, timeout=TICK_SECONDS)
        percent, lines = watch.take()
        now = time.monotonic()
        if engine.done() and not lines:
            break
        if not lines and percent == last_percent and now - last_write < HEARTBEAT_SECONDS:
            continue  # nothing new; heartbeat regardless every HEARTBEAT_SECONDS
        if now - last_write < WRITE_EVERY_SECONDS and not engine.done():
            with watch.lock:  # throttled: keep the lines for the next write
                watch.lines[:0] = lines
            continue
        current = await _write(
            maker,
            org_id,
            run_id,
            attempt,
            {"progress_percent": percent, "progress_message": lines[-1] if lines else f"{percent} % done."},
            lines,
        )
        last_write, last_percent = now, percent
        if current is None:
            fenced = True
            watch.stop.set()
            continue
        if current.cancel_requested_at is not None:
            watch.stop.set()
        await _publish(redis, namespace, run_payload(current, [{"level": "info", "message": m} for m in lines]))

    lines: list[dict] = []
    try:
        results = engine.result()
    except Cancelled:
        if fenced:
            log.warning("simulation run fenced out by a newer attempt", extra={"run_id": str(run_id)})
            return None
        percent = watch.take()[0]  # the bar ends where the message says it stopped
        final = await _write(
            maker,
            org_id,
            run_id,
            attempt,
            {
                "status": RunStatus.CANCELLED,
                "finished_at": func.now(),
                "progress_percent": percent,
                "progress_message": f"Cancelled at {percent} %.",
            },
            ["Cancelled on request."],
            LogLevel.WARNING,
        )
        lines = [{"level": "warning", "message": "Cancelled on request."}]
    except (BrokenProcessPool, asyncio.CancelledError):
        # the worker is going down (or lost its pool), not the run: leave it running; its heartbeat stops and a
        # redelivery or the reaper gives it to another attempt
        log.warning("simulation interrupted by the worker; another attempt will take it", extra={"run_id": str(run_id)})
        return None
    except EngineError as exc:
        final = await _write(
            maker,
            org_id,
            run_id,
            attempt,
            {
                "status": RunStatus.FAILED,
                "finished_at": func.now(),
                "error": exc.message,
                "error_constraint": exc.constraint,
                "progress_message": "Failed.",
            },
            [exc.message],
            LogLevel.ERROR,
        )
        lines = [{"level": "error", "message": exc.message}]
    except Exception:
        log.exception("simulation engine crashed", extra={"run_id": str(run_id)})
        final = await _write(
            maker,
            org_id,
            run_id,
            attempt,
            {
                "status": RunStatus.FAILED,
                "finished_at": func.now(),
                "error": "The engine stopped on an internal error; it has been logged for the team.",
                "error_constraint": "internal",
                "progress_message": "Failed.",
            },
            ["Internal engine error."],
            LogLevel.ERROR,
        )
    else:
        results, cpu_seconds = results
        final = await _succeed(maker, run, attempt, results, cpu_seconds)
        lines = [{"level": "info", "message": m} for m in _finish_lines(results)]
    if final is None:
        return None
    await _publish(redis, namespace, run_payload(final, lines))
    return final.status


async def reap_stale_runs(
    maker: async_sessionmaker, redis, namespace: str, enqueue, *, stale_seconds: int, max_attempts: int
) -> int:
    """Re-queue runs whose worker died (or fail them after `max_attempts`); re-send runs queued too long."""
    now = datetime.now(UTC)
    stale = now - timedelta(seconds=stale_seconds)
    async with unit_of_work(maker) as session:
        # system maintenance across tenants: the bypass is explicit, and every change is audited
        await enable_rls_bypass(session, reason="reap stale simulation runs")
        runs = (
            (
                await session.execute(
                    select(SimulationRun)
                    .where(
                        ((SimulationRun.status == RunStatus.RUNNING) & (SimulationRun.heartbeat_at < stale))
                        | (
                            (SimulationRun.status == RunStatus.QUEUED)
                            & (SimulationRun.updated_at < now - timedelta(minutes=2))
                        )
                    )
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
        for run in runs:
            before = {"status": run.status.value, "attempt": run.attempt}
            if run.status is RunStatus.RUNNING and run.attempt >= max_attempts:
                run.status, run.finished_at = RunStatus.FAILED, now
                run.error = f"The worker running this simulation stopped responding {run.attempt} times."
                run.error_constraint = "worker"
                message = run.error
                await credits.release(session, run.organization_id, hold_subject(run.id))
                await webhooks.run_finished(session, run)
            else:
                message = (
                    "The worker stopped responding; the run was queued again."
                    if run.status is RunStatus.RUNNING
                    else "Still waiting for a worker; the run was sent again."
                )
                run.status, run.progress_message = RunStatus.QUEUED, message
                run_id, org_id = str(run.id), str(run.organization_id)
                after_commit(session, lambda r=run_id, o=org_id: enqueue(r, o))
            run.updated_at, run.version = now, run.version + 1
            session.add(
                SimulationLog(
                    id=new_id(),
                    organization_id=run.organization_id,
                    run_id=run.id,
                    attempt=run.attempt,
                    level=LogLevel.WARNING,
                    message=message,
                )
            )
            await audit.record(
                session,
                None,
                "simulation_run.reaped",
                entity_type="simulation_run",
                entity_id=run.id,
                before=before,
                after={"status": run.status.value},
                organization_id=run.organization_id,
            )
            payload = run_payload(run)
            after_commit(session, lambda p=payload: _publish(redis, namespace, p))
    return len(runs)
