"""Verification runs: staff ask for one chain or all of them (the staff integrity page), the schedule verifies every
chain daily, a worker runs each and stores what it found. A broken chain opens a SEV1 security incident (rule
`audit_chain_broken`, one live incident per chain) — tampering with the audit log is never a quiet log line."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.audit import verify
from webapp.audit.models import AuditChainAnchor, AuditCheckpoint, AuditVerification
from webapp.core import audit, audit_chain
from webapp.core.audit import AuditChainHead
from webapp.core.errors import NotFound
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext
from webapp.organizations.models import Organization

RULE = "audit_chain_broken"
RULE_DESCRIPTION = (
    "The verifier found an audit chain that does not hold: a row changed, deleted, reordered or written outside "
    "the chain, or a chain that disagrees with its signed checkpoints. Someone with database access wrote behind "
    "the application's back."
)


@dataclass(frozen=True)
class ChainStatus:
    """One chain as the integrity page shows it."""

    chain: uuid.UUID
    name: str
    slug: str | None
    head_seq: int
    checkpoint: AuditCheckpoint | None
    anchor: AuditChainAnchor | None
    last: AuditVerification | None


async def request(session: AsyncSession, ctx: RequestContext | None, chains: list[uuid.UUID]) -> list[uuid.UUID]:
    """Queue one verification per chain (the caller has the bypass and enqueues the ids after commit)."""
    ids = []
    for chain in chains:
        run = AuditVerification(id=new_id(), chain_key=chain, requested_by=ctx.user_id if ctx else None)
        session.add(run)
        ids.append(run.id)
    await session.flush()
    if ctx is not None:
        await audit.record(session, ctx, "audit.verification_requested", entity_type="audit_log",
                           metadata={"chains": [str(c) for c in chains]}, organization_id=None)  # fmt: skip
    return ids


async def every_chain(session: AsyncSession) -> list[uuid.UUID]:
    """The keys of every chain (the platform's is the zero id)."""
    return [audit_chain.chain_key(c) for c in await verify.chains(session)]


def _organization_of(chain: uuid.UUID) -> uuid.UUID | None:
    return None if chain == audit_chain.PLATFORM_CHAIN else chain


async def run(session: AsyncSession, run_id: uuid.UUID, public=None) -> AuditVerification:
    """Verify the chain of a queued run and store the result; a broken chain opens (or joins) its incident."""
    found = await session.get(AuditVerification, run_id, with_for_update=True)
    if found is None:
        raise NotFound("No such verification run.")
    if found.status not in ("queued", "running"):
        return found  # a redelivered message: the run already finished
    found.status, found.started_at = "running", datetime.now(UTC)
    report = await verify.verify_chain(session, _organization_of(found.chain_key), public)
    found.rows, found.redacted, found.head_seq = report.rows, report.redacted, report.head_seq
    found.finished_at = datetime.now(UTC)
    if report.ok:
        found.status = "ok"
    else:
        found.status = "broken"
        found.broken_seq, found.broken_row_id, found.problem = (
            report.broken.seq, report.broken.row_id, report.broken.problem
        )  # fmt: skip
        await _incident(session, found)
    await session.flush()
    return found


async def _incident(session: AsyncSession, found: AuditVerification) -> None:
    from webapp.security import incidents
    from webapp.security.enums import IncidentSeverity
    from webapp.security.rules import live_incident

    key = f"{RULE}:{found.chain_key}"
    where = f"row {found.broken_seq}" if found.broken_seq else "the chain"
    body = f"Verification {found.id}: {where} — {found.problem}"
    live = await live_incident(session, key)
    if live is not None:
        await incidents.note_rule(session, live.id, body)
        return
    org = _organization_of(found.chain_key)
    await incidents.report(
        session, None, title=f"Audit chain broken ({'platform' if org is None else org})",
        severity=IncidentSeverity.SEV1, summary=f"Opened by the rule “{RULE}”: {RULE_DESCRIPTION} {body}",
        organization_ids=[org] if org else [], rule=RULE, dedupe_key=key,
    )  # fmt: skip


async def overview(session: AsyncSession) -> list[ChainStatus]:
    """Every chain with its head, latest checkpoint, anchor and latest verification (the caller has the bypass)."""
    keys = await every_chain(session)
    heads = dict((await session.execute(select(AuditChainHead.chain_key, AuditChainHead.seq))).all())
    names = {
        o.id: (o.name, o.slug)
        for o in (await session.execute(select(Organization.id, Organization.name, Organization.slug))).all()
    }
    checkpoints = {
        c.chain_key: c
        for c in (await session.execute(
            select(AuditCheckpoint).ext(distinct_on(AuditCheckpoint.chain_key))
            .order_by(AuditCheckpoint.chain_key, AuditCheckpoint.seq.desc())
        )).scalars()
    }  # fmt: skip
    anchors = {
        a.chain_key: a
        for a in (await session.execute(
            select(AuditChainAnchor).ext(distinct_on(AuditChainAnchor.chain_key))
            .order_by(AuditChainAnchor.chain_key, AuditChainAnchor.seq.desc())
        )).scalars()
    }  # fmt: skip
    runs = {
        r.chain_key: r
        for r in (await session.execute(
            select(AuditVerification).ext(distinct_on(AuditVerification.chain_key))
            .order_by(AuditVerification.chain_key, AuditVerification.created_at.desc())
        )).scalars()
    }  # fmt: skip
    out = []
    for key in keys:
        name, slug = ("Platform (no organization)", None) if key == audit_chain.PLATFORM_CHAIN else names.get(
            key, ("A deleted organization", None))  # fmt: skip
        out.append(ChainStatus(key, name, slug, heads.get(key, 0), checkpoints.get(key), anchors.get(key),
                               runs.get(key)))  # fmt: skip
    return sorted(out, key=lambda c: (c.last is None or c.last.status != "broken", c.name.lower()))


async def pending(session: AsyncSession) -> int:
    """How many runs are queued or running (the page refreshes itself while any are)."""
    return int(await session.scalar(
        select(func.count()).select_from(AuditVerification).where(AuditVerification.status.in_(("queued", "running")))
    ) or 0)  # fmt: skip
