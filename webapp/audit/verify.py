"""Verifying audit chains: recompute every link of a chain from its rows and name the first one that does not
hold — a row changed after it was written, a row deleted (a gap, or a chain shorter than its head says), rows
reordered, or a row written outside the chain. Rows erasure redacted keep their link; only their content check is
skipped, and the report counts them. After retention archived a chain's beginning, verification starts at the
chain's anchor (the last archived row's number and hash) instead of the genesis hash."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core import audit_chain
from webapp.core.audit import AuditChainHead, AuditLog

BATCH = 2_000


@dataclass(frozen=True)
class Break:
    """The first place a chain does not hold."""

    seq: int | None
    row_id: uuid.UUID | None
    problem: str


@dataclass(frozen=True)
class Report:
    """What verifying one chain found."""

    chain: uuid.UUID
    rows: int
    redacted: int
    head_seq: int
    broken: Break | None

    @property
    def ok(self) -> bool:
        """Whether every link holds."""
        return self.broken is None


def _org_filter(organization_id):
    return (
        AuditLog.organization_id.is_(None) if organization_id is None else AuditLog.organization_id == organization_id
    )


def recompute(row) -> tuple[str, str]:
    """(content hash, row hash) of a row as stored."""
    content = audit_chain.content_hash(
        before=row.before, after=row.after, metadata=row.metadata_, ip=row.ip, user_agent=row.user_agent
    )
    link = audit_chain.row_hash(
        seq=row.chain_seq, prev_hash=row.prev_hash, id=row.id, created_at=row.created_at,
        organization_id=row.organization_id, actor_user_id=row.actor_user_id,
        impersonator_user_id=row.impersonator_user_id, action=row.action, entity_type=row.entity_type,
        entity_id=row.entity_id, request_id=row.request_id, break_glass=row.break_glass,
        content_hash=row.content_hash,
    )  # fmt: skip
    return content, link


def check_link(row, expected_seq: int, prev_hash: str) -> str | None:
    """Why one row breaks the chain after the previous one (None: it holds)."""
    if row.chain_seq != expected_seq:
        if row.chain_seq > expected_seq:
            return f"rows {expected_seq}–{row.chain_seq - 1} are missing (deleted?)"
        return f"sequence {row.chain_seq} where {expected_seq} was expected (duplicated or reordered)"
    if row.prev_hash != prev_hash:
        return "it does not follow the row before it (reordered, or the row before was replaced)"
    content, link = recompute(row)
    if link != row.row_hash:
        return "the row was changed after it was written"
    if row.redacted_at is None and content != row.content_hash:
        return "its before/after/metadata, address or browser were changed after it was written"
    return None


async def verify_chain(session: AsyncSession, organization_id: uuid.UUID | None, public=None) -> Report:
    """Recompute one chain (an organization's, or the platform's for None), streaming its rows in order; with the
    checkpoints' public key, also hold it to every signed checkpoint — which catches even a chain rewritten
    consistently, head included. The caller runs with the RLS bypass (or as the owner)."""
    from webapp.audit import checkpoints as signed

    key = audit_chain.chain_key(organization_id)
    anchor = await latest_anchor(session, key)
    start, start_hash = (anchor.seq, anchor.row_hash) if anchor else (0, audit_chain.GENESIS)
    marks = {c.seq: c for c in await signed.checkpoints_of(session, key)} if public is not None else {}
    for mark in marks.values():
        if not signed.signature_holds(public, mark):
            return Report(key, 0, 0, 0, Break(mark.seq, None, f"the checkpoint at {mark.seq} is not signed by "
                                              "the platform's key"))  # fmt: skip
    head = await session.get(AuditChainHead, key)
    head_seq, head_hash = (head.seq, head.head_hash) if head else (0, audit_chain.GENESIS)
    outside = await session.scalar(
        select(func.count()).select_from(AuditLog).where(_org_filter(organization_id), AuditLog.chain_seq.is_(None))
    )
    for mark in marks.values():  # checkpoints of archived rows: only the one at the anchor can still be compared
        if mark.seq == start and mark.head_hash != start_hash:
            return Report(key, 0, 0, head_seq, Break(mark.seq, None, "the archive's anchor differs from the "
                                                     f"checkpoint signed {mark.signed_at:%Y-%m-%d}"))  # fmt: skip
    rows = redacted = 0
    expected, prev = start + 1, start_hash
    broken: Break | None = None
    stream = await session.stream(
        # only the links the head had when we read it: writers may extend the chain meanwhile
        select(AuditLog).where(_org_filter(organization_id), AuditLog.chain_seq > start,
                               AuditLog.chain_seq <= head_seq)
        .order_by(AuditLog.chain_seq, AuditLog.created_at).execution_options(yield_per=BATCH)
    )  # fmt: skip
    try:
        async for row in stream.scalars():
            rows += 1
            redacted += row.redacted_at is not None
            if broken is None and (problem := check_link(row, expected, prev)):
                broken = Break(row.chain_seq, row.id, problem)
            mark = marks.get(row.chain_seq)
            if broken is None and mark is not None and mark.head_hash != row.row_hash:
                broken = Break(
                    row.chain_seq, row.id, f"it differs from the checkpoint signed {mark.signed_at:%Y-%m-%d}"
                )
            expected, prev = row.chain_seq + 1, row.row_hash
    finally:
        await stream.close()  # the server-side cursor: later statements in this transaction may drop partitions
    if broken is None and (expected - 1 != head_seq or prev != head_hash):
        broken = Break(expected - 1 or None, None, f"the chain ends at {expected - 1} but its head says {head_seq} "
                       "(rows at the end were deleted, or the head was changed)")  # fmt: skip
    if broken is None and marks and max(marks) > expected - 1:
        broken = Break(max(marks), None, f"a signed checkpoint vouches for {max(marks)} rows, the chain has "
                       f"{expected - 1}")  # fmt: skip
    if broken is None and outside:
        broken = Break(None, None, f"{outside} row(s) were written outside the chain")
    return Report(key, rows, redacted, head_seq, broken)


async def latest_anchor(session: AsyncSession, chain: uuid.UUID):
    """Where the chain continues after retention archived its beginning (None: it starts at the genesis hash)."""
    from webapp.audit.models import AuditChainAnchor

    return (await session.execute(
        select(AuditChainAnchor).where(AuditChainAnchor.chain_key == chain).order_by(AuditChainAnchor.seq.desc())
        .limit(1)
    )).scalar_one_or_none()  # fmt: skip


async def chains(session: AsyncSession) -> list[uuid.UUID | None]:
    """Every chain that has rows or a head: organization ids, None for the platform's."""
    keys = set((await session.execute(select(AuditChainHead.chain_key))).scalars())
    keys |= set((await session.execute(select(AuditLog.organization_id).distinct())).scalars())
    found = {None if k in (None, audit_chain.PLATFORM_CHAIN) else k for k in keys}
    return sorted(found, key=lambda k: str(k or ""))
