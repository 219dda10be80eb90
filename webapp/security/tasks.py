"""Task shells for security: turn bursts of security events into incidents, every minute."""

from __future__ import annotations

from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import unit_of_work
from webapp.security import rules
from workers.broker import broker
from workers.uow import state, timed


@broker.task(task_name="security.detect_incidents", schedule=[{"cron": "* * * * *", "schedule_id": "security-detect"}])
async def detect_incidents() -> dict[str, int]:
    """Run the detection rules over the last minutes' security events."""
    s = state()

    async def body():
        async with unit_of_work(s.sessionmaker) as session:
            await enable_rls_bypass(session, reason="security: detection rules read every event")
            return await rules.detect(session)

    return await timed("security.detect_incidents", body)
