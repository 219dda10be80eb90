"""Retention of the audit log: each monthly partition older than `audit.retention_months` is verified, exported to
object storage as gzip JSON Lines (the export's format, chain fields included), recorded in `audit_archives`,
anchored — each chain's last archived row becomes where its verification starts — and only then dropped, in a second
transaction, by an owner function that refuses unless an archive of exactly that many rows is recorded. If archiving
fails nothing is recorded; if the drop fails the next run drops the archived month."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import logging
import os
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webapp.audit import integrity, queries
from webapp.audit.models import AuditArchive, AuditChainAnchor
from webapp.core import audit, audit_chain
from webapp.core.audit import AuditLog
from webapp.core.ids import new_id
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import unit_of_work
from webapp.settings import queries as settings

log = logging.getLogger(__name__)
BATCH = 1_000
_PARTITIONS = text("""
    SELECT c.relname AS name FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
    WHERE p.relname = 'audit_logs' AND c.relname ~ '^audit_logs_p[0-9]{6}$'
    ORDER BY c.relname
""")


@dataclass(frozen=True)
class Archived:
    """One month retired: its partition, how many rows, and where the archive lives."""

    partition: str
    rows: int
    object_key: str


def _month_start(partition: str) -> date:
    stamp = partition.rsplit("_p", 1)[1]
    return date(int(stamp[:4]), int(stamp[4:]), 1)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def cutoff(today: date, months: int) -> date:
    """The first day of the oldest month still kept: partitions ending on or before it are due."""
    index = today.year * 12 + today.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


async def due_partitions(session: AsyncSession, months: int, today: date | None = None) -> list[str]:
    """The audit_logs partitions that ended before the retention window, oldest first."""
    limit = cutoff(today or datetime.now(UTC).date(), months)
    names = (await session.execute(_PARTITIONS)).scalars()
    return [n for n in names if _next_month(_month_start(n)) <= limit]


async def _write_archive(session: AsyncSession, start: datetime, end: datetime, path: str) -> tuple[int, dict]:
    """Stream the month's rows into a gzip JSON Lines file; (rows, each chain's last archived (seq, hash))."""
    rows, last = 0, {}
    stmt = (
        queries.ROWS.where(AuditLog.created_at >= start, AuditLog.created_at < end)
        .order_by(AuditLog.created_at, AuditLog.id).execution_options(yield_per=BATCH)
    )  # fmt: skip
    with gzip.open(path, "wb", compresslevel=6) as out:
        batch: list[bytes] = []
        stream = await session.stream(stmt)
        try:
            async for row in stream:
                record = queries.export_record(row)
                batch.append(
                    (json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode()
                )
                rows += 1
                if row.chain_seq is not None:
                    key = audit_chain.chain_key(row.organization_id)
                    if key not in last or row.chain_seq > last[key][0]:
                        last[key] = (row.chain_seq, row.row_hash)
                if len(batch) >= BATCH:
                    await asyncio.to_thread(out.write, b"".join(batch))
                    batch.clear()
        finally:
            await stream.close()
        if batch:
            await asyncio.to_thread(out.write, b"".join(batch))
    return rows, last


def _digest(path: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return os.path.getsize(path), digest.hexdigest()


def _bounds(partition: str) -> tuple[datetime, datetime]:
    start, end = _month_start(partition), _next_month(_month_start(partition))
    return datetime(start.year, start.month, 1, tzinfo=UTC), datetime(end.year, end.month, 1, tzinfo=UTC)


async def _verify_month(session: AsyncSession, partition: str, public) -> list:
    """Verify every chain with rows in the month; the finished runs."""
    start, end = _bounds(partition)
    chains = [
        audit_chain.chain_key(o)
        for o in (await session.execute(
            select(AuditLog.organization_id).where(AuditLog.created_at >= start, AuditLog.created_at < end).distinct()
        )).scalars()
    ]  # fmt: skip
    return [await integrity.run(session, run_id, public) for run_id in await integrity.request(session, None, chains)]


async def archive_partition(session: AsyncSession, store, partition: str, months: int, public=None) -> Archived:
    """Verify, export, record, anchor and drop one month (the caller has the bypass; one transaction)."""
    start, end = _bounds(partition)
    for found in await _verify_month(session, partition, public):  # never archive what does not verify
        if found.status != "ok":
            raise ChainBroken(f"{partition}: chain {found.chain_key} is broken at {found.broken_seq}: {found.problem}")
    handle, path = tempfile.mkstemp(prefix=f"{partition}-", suffix=".jsonl.gz")
    os.close(handle)
    try:
        rows, last = await _write_archive(session, start, end, path)
        size, sha256 = await asyncio.to_thread(_digest, path)
        key = f"audit-archive/{partition}.jsonl.gz"
        await store.put(key, path)
    finally:
        if os.path.exists(path):
            os.unlink(path)
    archive = AuditArchive(id=new_id(), partition=partition, range_start=start, range_end=end, rows=rows,
                           object_key=key, size=size, sha256=sha256)  # fmt: skip
    session.add(archive)
    await session.flush()
    for chain, (seq, row_hash) in last.items():
        anchor = await _anchor_seq(session, chain)
        if seq > anchor:
            session.add(AuditChainAnchor(chain_key=chain, seq=seq, row_hash=row_hash, archive_id=archive.id))
    await session.flush()
    await audit.record(session, None, "audit.partition_archived", entity_type="audit_archive", entity_id=archive.id,
                       after={"partition": partition, "rows": rows, "object_key": key, "sha256": sha256},
                       organization_id=None)  # fmt: skip
    return Archived(partition, rows, key)


async def drop_partition(session: AsyncSession, partition: str, months: int) -> int:
    """Drop an archived month (its own transaction: the archive's server-side cursors pin the partition until that
    one ends); the owner function refuses unless the archive holds exactly the partition's rows."""
    dropped = await session.execute(text("SELECT drop_archived_audit_partition(:p, :m)"), {"p": partition, "m": months})
    await audit.record(session, None, "audit.partition_dropped", entity_type="audit_archive",
                       after={"partition": partition}, organization_id=None)  # fmt: skip
    return int(dropped.scalar_one())


async def _anchor_seq(session: AsyncSession, chain: uuid.UUID) -> int:
    from webapp.audit.verify import latest_anchor

    anchor = await latest_anchor(session, chain)
    return anchor.seq if anchor else 0


class ChainBroken(Exception):
    """A chain of the month to archive does not verify: retention stops (its incident is open)."""


async def retire_old_months(maker: async_sessionmaker, store, today: date | None = None, public=None) -> list[Archived]:
    """Archive and drop every month past the retention window, oldest first; stops at the first that fails."""
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="audit retention: list the months past the window")
        months = int(await settings.value_of(session, "audit.retention_months"))
        due = await due_partitions(session, months, today)
    done = []
    for partition in due:
        try:
            async with unit_of_work(maker) as session:
                await enable_rls_bypass(session, reason=f"audit retention: archive {partition}")
                archived = (await session.execute(
                    select(AuditArchive).where(AuditArchive.partition == partition)
                )).scalar_one_or_none()  # fmt: skip
                if archived is None:  # else an earlier run archived it and stopped before the drop
                    done.append(await archive_partition(session, store, partition, months, public))
                else:
                    done.append(Archived(partition, archived.rows, archived.object_key))
            async with unit_of_work(maker) as session:
                await enable_rls_bypass(session, reason=f"audit retention: drop {partition}")
                await drop_partition(session, partition, months)
        except ChainBroken as exc:
            log.error("audit retention stopped: %s", exc)
            async with unit_of_work(maker) as session:  # keep the broken runs and their incident this time
                await enable_rls_bypass(session, reason=f"audit retention: record why {partition} was not archived")
                await _verify_month(session, partition, public)
            break
    return done
