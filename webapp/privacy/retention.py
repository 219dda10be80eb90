"""Retention (GDPR Art. 5(1)(e)): once a day every registry entry with a retention period has what passed it
deleted — in batches, so no lock is held long — except what a legal hold covers; counts per table are returned,
logged and audited. Tables the app may only append to are trimmed through their owner function."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from webapp.core import audit
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import unit_of_work
from webapp.privacy import holds, registry
from webapp.privacy import requests as privacy_requests

log = logging.getLogger(__name__)
BATCH = 5_000
KEPT_RECORD_TABLES = frozenset({"security_events", "usage_metered_usage", "billing_payment_events"})


async def _has_column(session, table: str, column: str) -> bool:
    found = await session.execute(
        text("SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = :t "
             "AND column_name = :c"),
        {"t": table, "c": column},
    )  # fmt: skip
    return found.first() is not None


async def _periods(sessionmaker) -> dict[tuple[str, str, str], int]:
    """(table, timestamp column, subject column) → the shortest retention registered for that table's rows."""
    async with unit_of_work(sessionmaker) as session:
        periods: dict[tuple[str, str, str], int] = {}
        for entry in await registry.entries(session):
            if entry.retention_days is None:
                continue
            key = (entry.table_name, entry.retention_from, entry.subject_column)
            periods[key] = min(periods.get(key, entry.retention_days), entry.retention_days)
        return periods


async def _delete_batch(session, table: str, since: str, subject: str, cutoff: datetime, held) -> int:
    if table in KEPT_RECORD_TABLES:
        done = await session.execute(
            text("SELECT retention_delete_kept_records(:t, :cutoff, CAST(:users AS uuid[]), CAST(:orgs AS uuid[]),"
                 " :n)"),
            {"t": table, "cutoff": cutoff, "users": held.users, "orgs": held.organizations, "n": BATCH},
        )  # fmt: skip
        return done.scalar_one()
    name, since_q = registry.quoted(table), registry.quoted(since)
    spared = []
    params = {"cutoff": cutoff, "n": BATCH, "users": held.users, "orgs": held.organizations}
    if subject not in ("email", registry.ORGANIZATION_SUBJECT):
        spared.append(
            f"({registry.quoted(subject)} IS NULL OR {registry.quoted(subject)} <> ALL(CAST(:users AS uuid[])))"
        )
    if await _has_column(session, table, "organization_id"):
        spared.append("(organization_id IS NULL OR organization_id <> ALL(CAST(:orgs AS uuid[])))")
    where = " AND ".join([f"{since_q} < :cutoff", *spared])
    done = await session.execute(
        text(f"DELETE FROM {name} WHERE ctid IN (SELECT ctid FROM {name} WHERE {where} LIMIT :n)"), params
    )
    return done.rowcount


async def enforce(sessionmaker, store, now: datetime | None = None) -> dict[str, int]:
    """Delete everything past its retention at `now` (the clock is a parameter so tests can freeze it), batch by
    batch, each batch its own transaction; expired export archives go too. Rows deleted per table."""
    now = now or datetime.now(UTC)
    counts: dict[str, int] = defaultdict(int)
    for (table, since, subject), days in sorted((await _periods(sessionmaker)).items()):
        cutoff = now - timedelta(days=days)
        while True:
            async with unit_of_work(sessionmaker) as session:
                await enable_rls_bypass(session, reason="privacy retention")
                held = await holds.held(session, now)
                deleted = await _delete_batch(session, table, since, subject, cutoff, held)
            counts[table] += deleted
            if deleted < BATCH:
                break
    async with unit_of_work(sessionmaker) as session:
        await enable_rls_bypass(session, reason="privacy retention")
        counts["privacy_export_archives"] = await privacy_requests.expire_archives(session, store, now)
        await audit.record(
            session, None, "privacy.retention_enforced", entity_type="personal_data_registry",
            metadata={"at": now.isoformat(), "deleted": dict(counts)}, organization_id=None,
        )  # fmt: skip
    log.info("retention: %s", dict(counts))
    return dict(counts)
