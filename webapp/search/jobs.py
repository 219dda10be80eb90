"""Re-index jobs: an organization's admin rebuilds its index (one kind or all), staff rebuild every organization's.
A worker claims the job with an attempt number (fencing token), rebuilds one organization and kind per
transaction, and writes and publishes progress after each; a reaper re-sends jobs whose worker died."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webapp.core import audit
from webapp.core.entities import KINDS, searchable_kinds
from webapp.core.errors import Conflict, NotFound, ValidationError
from webapp.core.ids import new_id
from webapp.core.pubsub import publish_json
from webapp.core.tenancy import RequestContext, enable_rls_bypass, scope_session
from webapp.core.transaction import after_commit, unit_of_work
from webapp.organizations.queries import live_organization_ids
from webapp.search.enums import ReindexStatus
from webapp.search.events import job_channel, job_payload
from webapp.search.models import ReindexJob
from webapp.search.service import reindex_organization

log = logging.getLogger(__name__)
STALE_RUNNING = timedelta(seconds=90)
NEVER_STARTED = timedelta(seconds=60)
MAX_ATTEMPTS = 3
ACTIVE = (ReindexStatus.QUEUED, ReindexStatus.RUNNING)


def check_entity_type(entity_type: str | None) -> str | None:
    """A searchable kind's name, or None for all; a 422 naming `entity_type` otherwise."""
    if entity_type in (None, ""):
        return None
    if entity_type not in KINDS or not KINDS[entity_type].searchable:
        names = ", ".join(k.name for k in searchable_kinds())
        raise ValidationError.field("entity_type", f"Not a searchable kind; one of {names}.")
    return entity_type


async def _refuse_second(session: AsyncSession, org_id: uuid.UUID | None) -> None:
    scope = ReindexJob.organization_id.is_(None) if org_id is None else ReindexJob.organization_id == org_id
    active = (
        await session.execute(select(ReindexJob).where(scope, ReindexJob.status.in_(ACTIVE)).limit(1))
    ).scalar_one_or_none()
    if active is not None:
        raise Conflict("A rebuild of this search index is already under way.", {"current": job_payload(active)})


async def request_reindex(session: AsyncSession, ctx: RequestContext, entity_type: str | None, enqueue) -> ReindexJob:
    """Queue a rebuild of the organization's index (one kind, or all); 409 while one is under way."""
    entity_type = check_entity_type(entity_type)
    await _refuse_second(session, ctx.org_id)
    job = ReindexJob(id=new_id(), organization_id=ctx.org_id, entity_type=entity_type, requested_by=ctx.user_id)
    session.add(job)
    await session.flush()
    await audit.record(
        session, ctx, "search.reindex_request", entity_type="search_index", entity_id=job.id,
        after={"entity_type": entity_type},
    )  # fmt: skip
    job_id, org_id = str(job.id), str(ctx.org_id)
    after_commit(session, lambda: enqueue(job_id, org_id))
    return job


async def request_rebuild(session: AsyncSession, ctx: RequestContext, enqueue) -> ReindexJob:
    """Staff: queue a rebuild of every organization's index (the session already bypasses RLS, audited)."""
    await _refuse_second(session, None)
    job = ReindexJob(id=new_id(), organization_id=None, requested_by=ctx.user_id)
    session.add(job)
    await session.flush()
    await audit.record(
        session, ctx, "platform.search_rebuild", entity_type="search_index", entity_id=job.id,
        metadata={"rls_bypass": True}, organization_id=None,
    )  # fmt: skip
    job_id = str(job.id)
    after_commit(session, lambda: enqueue(job_id, ""))
    return job


async def get_job(session: AsyncSession, org_id: uuid.UUID | None, job_id: uuid.UUID) -> ReindexJob:
    """One job of the organization (org_id None: a platform rebuild, read under the staff bypass)."""
    scope = ReindexJob.organization_id.is_(None) if org_id is None else ReindexJob.organization_id == org_id
    job = (await session.execute(select(ReindexJob).where(ReindexJob.id == job_id, scope))).scalar_one_or_none()
    if job is None:
        raise NotFound("No such re-index job.")
    return job


async def latest_job(session: AsyncSession, org_id: uuid.UUID | None) -> ReindexJob | None:
    """The organization's (or the platform's) most recent job."""
    scope = ReindexJob.organization_id.is_(None) if org_id is None else ReindexJob.organization_id == org_id
    stmt = select(ReindexJob).where(scope).order_by(ReindexJob.created_at.desc()).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


async def index_size(session: AsyncSession, org_id: uuid.UUID) -> dict[str, int]:
    """Rows in the organization's index by kind."""
    from webapp.search.models import SearchIndex

    rows = await session.execute(
        select(SearchIndex.entity_type, func.count())
        .where(SearchIndex.organization_id == org_id)
        .group_by(SearchIndex.entity_type)
    )
    return dict(rows.all())


# ---------------------------------------------------------------------------------------------- the worker's side


async def _scoped(session: AsyncSession, org_id: uuid.UUID | None) -> None:
    if org_id is None:
        await enable_rls_bypass(session, reason="search rebuild of every organization")
    else:
        await scope_session(session, org_id=org_id)


async def _claim(session: AsyncSession, job_id: uuid.UUID, total: int) -> ReindexJob | None:
    stale_before = func.now() - STALE_RUNNING
    result = await session.execute(
        update(ReindexJob)
        .where(
            ReindexJob.id == job_id,
            (ReindexJob.status == ReindexStatus.QUEUED)
            | ((ReindexJob.status == ReindexStatus.RUNNING) & (ReindexJob.heartbeat_at < stale_before)),
        )
        .values(
            status=ReindexStatus.RUNNING,
            attempt=ReindexJob.attempt + 1,
            heartbeat_at=func.now(),
            started_at=func.coalesce(ReindexJob.started_at, func.now()),
            total=total,
            done=0,
            rows=0,
            progress=0,
            version=ReindexJob.version + 1,
        )
        .returning(ReindexJob)
        # the job was read in this session already: RETURNING must overwrite it, not meet the stale copy
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return result.scalar_one_or_none()


async def _save(session: AsyncSession, job_id: uuid.UUID, attempt: int, **values) -> ReindexJob | None:
    """Write progress only while holding the fencing token; None means a newer attempt took over."""
    result = await session.execute(
        update(ReindexJob)
        .where(ReindexJob.id == job_id, ReindexJob.attempt == attempt)
        .values(heartbeat_at=func.now(), version=ReindexJob.version + 1, **values)
        .returning(ReindexJob)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none()


async def _organizations(maker: async_sessionmaker, org_id: uuid.UUID | None) -> list[uuid.UUID]:
    if org_id is not None:
        return [org_id]
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="search rebuild of every organization")
        return await live_organization_ids(session)


async def run_reindex(
    maker: async_sessionmaker, redis, namespace: str, job_id: uuid.UUID, org_id: uuid.UUID | None
) -> ReindexStatus | None:
    """Rebuild what the job names, one organization and kind per transaction, with progress after each;
    idempotent per delivery (the attempt number fences a stale worker out)."""
    orgs = await _organizations(maker, org_id)
    async with unit_of_work(maker) as session:
        await _scoped(session, org_id)
        pending = await get_job(session, org_id, job_id)
        kinds = [pending.entity_type] if pending.entity_type else [k.name for k in searchable_kinds()]
        job = await _claim(session, job_id, len(orgs) * len(kinds))
    if job is None:
        log.info("re-index job not claimable (done, running elsewhere or missing)", extra={"job_id": str(job_id)})
        return None
    attempt = job.attempt
    await publish_json(redis, job_channel(namespace, job_id), job_payload(job))
    done = rows = 0
    try:
        for org in orgs:
            for kind in kinds:
                async with unit_of_work(maker) as session:
                    await scope_session(session, org_id=org)
                    rows += (await reindex_organization(session, org, kind))[kind]
                done += 1
                values = {"done": done, "rows": rows, "progress": min(99, 100 * done // max(job.total, 1))}
                async with unit_of_work(maker) as session:
                    await _scoped(session, org_id)
                    job = await _save(session, job_id, attempt, **values)
                if job is None:
                    log.warning("re-index job fenced out by a newer attempt", extra={"job_id": str(job_id)})
                    return None
                await publish_json(redis, job_channel(namespace, job_id), job_payload(job))
        final = {"status": ReindexStatus.SUCCEEDED, "progress": 100, "finished_at": func.now()}
    except Exception as exc:  # the job says what failed; the task itself does not retry a deterministic error
        log.exception("re-index job failed", extra={"job_id": str(job_id)})
        final = {"status": ReindexStatus.FAILED, "error": str(exc)[:500], "finished_at": func.now()}
    async with unit_of_work(maker) as session:
        await _scoped(session, org_id)
        job = await _save(session, job_id, attempt, **final)
    if job is None:
        return None
    await publish_json(redis, job_channel(namespace, job_id), job_payload(job))
    return job.status


async def reap_reindex_jobs(maker: async_sessionmaker, redis, namespace: str, enqueue) -> int:
    """Send again the jobs a worker never started or stopped heart-beating on; fail those out of attempts."""
    now = datetime.now(UTC)
    async with unit_of_work(maker) as session:
        # maintenance across tenants: the bypass is explicit and says why
        await enable_rls_bypass(session, reason="re-index reaper")
        stuck = (
            (
                await session.execute(
                    select(ReindexJob).where(
                        ((ReindexJob.status == ReindexStatus.QUEUED) & (ReindexJob.created_at < now - NEVER_STARTED))
                        | (
                            (ReindexJob.status == ReindexStatus.RUNNING)
                            & (ReindexJob.heartbeat_at < now - STALE_RUNNING)
                        )
                    )
                )
            )
            .scalars()
            .all()
        )
        given_up = [j for j in stuck if j.attempt >= MAX_ATTEMPTS]
        for job in given_up:
            job.status, job.error, job.finished_at = ReindexStatus.FAILED, "The worker stopped answering.", now
        await session.flush()
        again = [(str(j.id), str(j.organization_id or "")) for j in stuck if j.attempt < MAX_ATTEMPTS]
        gone = [job_payload(j) for j in given_up]
    for payload in gone:
        await publish_json(redis, job_channel(namespace, payload["id"]), payload)
    for job_id, org in again:
        await enqueue(job_id, org)
    return len(stuck)
