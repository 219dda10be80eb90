"""Task shells for the audit log: the daily signed checkpoint of every chain's head, verification of the chains
(daily, and when staff ask), and retention of months past the window."""

from __future__ import annotations

import logging
import uuid

from webapp.audit import integrity, retention
from webapp.audit.checkpoints import sign_heads, signing_key
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import unit_of_work
from workers.broker import broker
from workers.uow import state, timed

log = logging.getLogger(__name__)


def _public_key():
    seed = state().settings.audit_signing_seed()
    return None if seed is None else signing_key(seed).public_key()


@broker.task(task_name="audit.sign_checkpoints", schedule=[{"cron": "45 0 * * *", "schedule_id": "audit-checkpoints"}])
async def sign_checkpoints() -> int:
    """Sign each audit chain's head that moved since yesterday."""
    s = state()
    seed = s.settings.audit_signing_seed()
    if seed is None:
        log.error("AUDIT_SIGNING_KEY is not set: no audit checkpoints are signed")
        return 0

    async def body():
        async with unit_of_work(s.sessionmaker) as session:
            await enable_rls_bypass(session, reason="audit: sign the chains' heads")
            return await sign_heads(session, seed)

    return await timed("audit.sign_checkpoints", body)


@broker.task(task_name="audit.verify_chain")
async def verify_chain(run_id: str) -> str:
    """Run one queued verification (staff asked for it on the integrity page)."""
    s = state()

    async def body():
        async with unit_of_work(s.sessionmaker) as session:
            await enable_rls_bypass(session, reason="audit: verify a chain staff asked about")
            return (await integrity.run(session, uuid.UUID(run_id), _public_key())).status

    return await timed("audit.verify_chain", body)


@broker.task(task_name="audit.verify_chains", schedule=[{"cron": "15 1 * * *", "schedule_id": "audit-verify"}])
async def verify_chains() -> dict[str, int]:
    """Verify every chain against its rows and signed checkpoints; a broken one opens a SEV1 incident."""
    s = state()

    async def body():
        async with unit_of_work(s.sessionmaker) as session:
            await enable_rls_bypass(session, reason="audit: queue the daily verification")
            runs = await integrity.request(session, None, await integrity.every_chain(session))
        found: dict[str, int] = {}
        for run_id in runs:  # one transaction per chain: a long chain does not hold the others' results back
            async with unit_of_work(s.sessionmaker) as session:
                await enable_rls_bypass(session, reason="audit: daily verification")
                status = (await integrity.run(session, run_id, _public_key())).status
            found[status] = found.get(status, 0) + 1
        return found

    return await timed("audit.verify_chains", body)


@broker.task(task_name="audit.retire_old_months", schedule=[{"cron": "40 2 2 * *", "schedule_id": "audit-retention"}])
async def retire_old_months() -> int:
    """Archive and drop the months of the audit log past `audit.retention_months`."""
    from webapp.collaboration.storage import store_for

    s = state()

    async def body():
        done = await retention.retire_old_months(s.sessionmaker, store_for(s.settings), public=_public_key())
        return sum(a.rows for a in done)

    return await timed("audit.retire_old_months", body)


async def enqueue_verifications(run_ids: list[uuid.UUID]) -> None:
    """Send the queued runs to the workers (called after their rows are committed)."""
    for run_id in run_ids:
        await verify_chain.kiq(str(run_id))
