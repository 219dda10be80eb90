"""ClosedLoop's own usage beyond runs: API calls per key, counted in Redis (one HINCRBY per request, never a database
write) and flushed every minute into usage events; and, once a day, the storage each organization holds and its
seats. All of it goes through the same ingestion as any service's events (`ingest.record`), keyed so that a retry
records nothing twice."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from webapp.core.pubsub import channel
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import unit_of_work
from webapp.usage import ingest

log = logging.getLogger(__name__)
BUCKET_TTL_SECONDS = 3 * 86400  # a counter nobody flushed within the late window would be refused anyway
GB = Decimal(1024**3)


def _bucket(namespace: str, hour: datetime) -> str:
    return channel(namespace, "usage", "api_calls", hour.strftime("%Y%m%d%H"))


async def count_api_call(redis, namespace: str, org_id: uuid.UUID, key_id: uuid.UUID) -> None:
    """Count one request made with an API key (in this hour's counter)."""
    bucket = _bucket(namespace, datetime.now(UTC))
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hincrby(bucket, f"{org_id}:{key_id}", 1)
        pipe.expire(bucket, BUCKET_TTL_SECONDS)
        await pipe.execute()


async def flush_api_calls(maker: async_sessionmaker, redis, namespace: str) -> int:
    """Move every hour's counters into usage events; how many events were stored. A counter is claimed by renaming
    it (requests after that count in a fresh one); the claim is deleted only after the events are committed, and a
    claim left by a crash is flushed again with the same transaction ids — so nothing is lost or counted twice."""
    pattern = channel(namespace, "usage", "api_calls", "*")
    claims = []
    async for name in redis.scan_iter(match=pattern, count=500):
        if ":claim:" in name:
            claims.append(name)  # left by a flush that did not finish
            continue
        claim = f"{name}:claim:{uuid.uuid4().hex}"
        try:
            await redis.rename(name, claim)
        except Exception:  # gone since the scan (expired, or another flush took it)
            continue
        claims.append(claim)
    stored = 0
    for claim in claims:
        hour = datetime.strptime(claim.split(":claim:")[0].rsplit(":", 1)[1], "%Y%m%d%H").replace(tzinfo=UTC)
        counts = await redis.hgetall(claim)
        events = [
            {"transaction_id": f"api_calls:{claim.rsplit(':', 1)[1]}:{field}", "organization_id": field.split(":")[0],
             "code": "api_calls", "quantity": int(n), "timestamp": hour.isoformat(),
             "properties": {"api_key_id": field.split(":")[1]}}
            for field, n in counts.items()
        ]  # fmt: skip
        for start in range(0, len(events), ingest.MAX_BATCH):
            async with unit_of_work(maker) as session:
                await enable_rls_bypass(session, reason="usage: flush API call counters")
                outcome = await ingest.record(session, events[start : start + ingest.MAX_BATCH])
            stored += outcome.stored
            if outcome.rejected:
                log.warning("API call counts refused", extra={"rejected": repr(outcome.rejected[:5])})
        await redis.delete(claim)
    return stored


async def measure_daily(maker: async_sessionmaker) -> int:
    """Once a day: each organization's stored gigabytes and its members (seat-days), as usage events keyed by the
    date (a second run the same day records nothing more); how many events were stored."""
    from webapp.collaboration.models import StoredObject
    from webapp.organizations.models import Membership, Organization

    today = datetime.now(UTC).date().isoformat()
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="usage: measure storage and seats")
        stored_bytes = (
            select(func.coalesce(func.sum(StoredObject.size), 0))
            .where(StoredObject.organization_id == Organization.id)
            .scalar_subquery()
        )
        members = (
            select(func.count())
            .select_from(Membership)
            .where(Membership.organization_id == Organization.id, Membership.deleted_at.is_(None))
            .scalar_subquery()
        )
        rows = (
            await session.execute(
                select(Organization.id, stored_bytes, members).where(Organization.deleted_at.is_(None))
            )
        ).all()
    now = datetime.now(UTC).isoformat()
    events = []
    for org_id, size, seats in rows:
        events.append(
            {
                "transaction_id": f"storage_gb:{today}",
                "organization_id": str(org_id),
                "code": "storage_gb",
                "quantity": str((Decimal(size) / GB).quantize(Decimal("0.000001"))),
                "timestamp": now,
            }
        )
        events.append({"transaction_id": f"seat_days:{today}", "organization_id": str(org_id), "code": "seat_days",
                       "quantity": int(seats), "timestamp": now})  # fmt: skip
    stored = 0
    for start in range(0, len(events), ingest.MAX_BATCH):
        async with unit_of_work(maker) as session:
            await enable_rls_bypass(session, reason="usage: record storage and seats")
            stored += (await ingest.record(session, events[start : start + ingest.MAX_BATCH])).stored
    return stored
