"""Task shells for the audit log: the daily signed checkpoint of every chain's head."""

from __future__ import annotations

import logging

from webapp.audit.checkpoints import sign_heads
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import unit_of_work
from workers.broker import broker
from workers.uow import state, timed

log = logging.getLogger(__name__)


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
