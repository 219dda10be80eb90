"""Task shells for support access: end impersonations past their hour and email the people they acted as."""

from __future__ import annotations

from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import unit_of_work
from webapp.support import impersonation
from workers.broker import broker
from workers.uow import state, timed


@broker.task(
    task_name="support.close_impersonations", schedule=[{"cron": "*/5 * * * *", "schedule_id": "support-close"}]
)
async def close_impersonations() -> int:
    """End expired impersonations and tell each user support acted as them."""
    s = state()

    async def body():
        async with unit_of_work(s.sessionmaker) as session:
            await enable_rls_bypass(session, reason="support: close impersonations and tell the users")
            return await impersonation.notify_users(session)

    return await timed("support.close_impersonations", body)
