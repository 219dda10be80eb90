"""System checks: request one, run it under a fencing token, reap the abandoned."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webapp.core import audit
from webapp.core.errors import ValidationError
from webapp.core.ids import new_id
from webapp.core.pubsub import publish_json
from webapp.core.tenancy import RequestContext, enable_rls_bypass, scope_session
from webapp.core.transaction import after_commit, unit_of_work
from webapp.ops import probes
from webapp.ops.enums import CheckStatus, StepName
from webapp.ops.events import check_channel, check_payload
from webapp.ops.models import SystemCheck

log = logging.getLogger(__name__)

STALE_RUNNING = timedelta(minutes=2)
STALE_QUEUED = timedelta(minutes=10)


def parse_steps(raw: list[str] | None) -> list[StepName]:
    """Validate the requested steps (all of them when none are named), in canonical order."""
    if not raw:
        return list(StepName)
    unknown = sorted({s for s in raw if s not in StepName.__members__.values()})
    if unknown:
        allowed = ", ".join(s.value for s in StepName)
        raise ValidationError(
            details={"fields": {"steps": [f"Unknown step(s): {', '.join(unknown)}. Choose from {allowed}."]}}
        )
    return [s for s in StepName if s.value in set(raw)]


async def request_check(session: AsyncSession, ctx: RequestContext, steps: list[StepName], enqueue) -> SystemCheck:
    """Create a queued check and enqueue its task once the row is committed."""
    check = SystemCheck(
        id=new_id(),
        organization_id=ctx.org_id,
        requested_by=ctx.user_id,
        status=CheckStatus.QUEUED,
        progress=0,
        attempt=0,
        steps=[{"name": s.value, "status": "pending"} for s in steps],
    )
    session.add(check)
    await session.flush()
    await audit.record(
        session,
        ctx,
        "system_check.request",
        entity_type="system_check",
        entity_id=check.id,
        after={"steps": [s.value for s in steps]},
    )
    check_id, org_id = str(check.id), str(ctx.org_id)
    after_commit(session, lambda: enqueue(check_id, org_id))
    return check


async def _claim(session: AsyncSession, org_id: uuid.UUID, check_id: uuid.UUID) -> int | None:
    """Take the check: queued, or running with a dead heartbeat. Returns our attempt (fencing token)."""
    stale_before = func.now() - STALE_RUNNING
    result = await session.execute(
        update(SystemCheck)
        .where(
            SystemCheck.id == check_id,
            SystemCheck.organization_id == org_id,
            (SystemCheck.status == CheckStatus.QUEUED)
            | ((SystemCheck.status == CheckStatus.RUNNING) & (SystemCheck.heartbeat_at < stale_before)),
        )
        .values(
            status=CheckStatus.RUNNING,
            attempt=SystemCheck.attempt + 1,
            heartbeat_at=func.now(),
            started_at=func.coalesce(SystemCheck.started_at, func.now()),
            version=SystemCheck.version + 1,
        )
        .returning(SystemCheck.attempt)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none()


async def _save(session: AsyncSession, org_id, check_id, attempt: int, **values) -> SystemCheck | None:
    """Write progress only while we still hold the fencing token; None means another attempt took over."""
    result = await session.execute(
        update(SystemCheck)
        .where(SystemCheck.id == check_id, SystemCheck.organization_id == org_id, SystemCheck.attempt == attempt)
        .values(heartbeat_at=func.now(), version=SystemCheck.version + 1, **values)
        .returning(SystemCheck)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none()


async def run_check(
    maker: async_sessionmaker, redis, *, namespace: str, queue_name: str, org_id: uuid.UUID, check_id: uuid.UUID
) -> CheckStatus | None:
    """Run every planned step, persisting and publishing progress after each; idempotent per delivery."""
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=org_id)
        attempt = await _claim(session, org_id, check_id)
        if attempt is None:
            log.info(
                "system check not claimable (done, running elsewhere or missing)", extra={"check_id": str(check_id)}
            )
            return None
        check = await session.get(SystemCheck, check_id, populate_existing=True)
        steps = [dict(s, status="pending") for s in check.steps]
    await publish_json(redis, check_channel(namespace, check_id), check_payload(check))

    for index, step in enumerate(steps):
        finding = await _run_step(maker, redis, StepName(step["name"]), namespace, queue_name, org_id)
        step.update(status="ok" if finding.ok else "failed", detail=finding.detail, elapsed_ms=finding.elapsed_ms)
        done = index + 1 == len(steps)
        failed = [s["name"] for s in steps if s["status"] == "failed"]
        values = {"steps": steps, "progress": round(100 * (index + 1) / len(steps))}
        if done:
            values.update(
                status=CheckStatus.FAILED if failed else CheckStatus.SUCCEEDED,
                finished_at=func.now(),
                error=f"Failed: {', '.join(failed)}" if failed else None,
            )
        async with unit_of_work(maker) as session:
            await scope_session(session, org_id=org_id)
            check = await _save(session, org_id, check_id, attempt, **values)
        if check is None:
            log.warning(
                "system check fenced out by a newer attempt", extra={"check_id": str(check_id), "attempt": attempt}
            )
            return None
        await publish_json(redis, check_channel(namespace, check_id), check_payload(check))
    return check.status


async def _run_step(maker, redis, step: StepName, namespace: str, queue_name: str, org_id) -> probes.Finding:
    if step is StepName.POSTGRES:
        async with unit_of_work(maker) as session:
            await scope_session(session, org_id=org_id)
            return await probes.probe_postgres(session)
    if step is StepName.REDIS:
        return await probes.probe_redis(redis)
    if step is StepName.WORKER:
        return await probes.probe_workers(redis, namespace, queue_name)
    return await probes.probe_scheduler(redis, namespace)


async def reap_abandoned_checks(
    maker: async_sessionmaker, redis, namespace: str, *, now: datetime | None = None
) -> int:
    """Fail checks whose worker died (stale heartbeat) or that never started; tell their subscribers."""
    now = now or datetime.now(UTC)  # the clock is a parameter so a caller can settle what would go stale soon
    async with unit_of_work(maker) as session:
        # system maintenance across tenants: the bypass is explicit, and every reaped row is audited
        await enable_rls_bypass(session, reason="reap abandoned system checks")
        stale = (
            (
                await session.execute(
                    select(SystemCheck)
                    .where(
                        ((SystemCheck.status == CheckStatus.RUNNING) & (SystemCheck.heartbeat_at < now - STALE_RUNNING))
                        | ((SystemCheck.status == CheckStatus.QUEUED) & (SystemCheck.created_at < now - STALE_QUEUED))
                    )
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
        for check in stale:
            before = {"status": check.status}
            check.status, check.finished_at = CheckStatus.FAILED, now
            check.error = (
                "The worker running this check stopped responding."
                if before["status"] == CheckStatus.RUNNING
                else "No worker picked this check up within 10 minutes."
            )
            await audit.record(
                session,
                None,
                "system_check.reaped",
                entity_type="system_check",
                entity_id=check.id,
                before=before,
                after={"status": check.status},
                organization_id=check.organization_id,
            )
            payload = check_payload(check)
            after_commit(session, lambda p=payload: publish_json(redis, check_channel(namespace, p["id"]), p))
    return len(stale)


PARTITIONED_TABLES = ("audit_logs", "security_events", "usage_metered_usage")


async def ensure_partitions(maker: async_sessionmaker, months_ahead: int = 3) -> int:
    """Create the coming months' partitions of every append-only table (owner-privileged SQL function)."""
    from sqlalchemy import text

    created = 0
    async with unit_of_work(maker) as session:
        for table in PARTITIONED_TABLES:
            created += (
                await session.execute(text("SELECT ensure_monthly_partitions(:t, :m)"), {"t": table, "m": months_ahead})
            ).scalar_one()
    return created
