"""Task shells for identity: work a request must not do while the caller waits."""

from __future__ import annotations

from webapp.core.tenancy import RequestContext
from webapp.core.transaction import unit_of_work
from webapp.identity import accounts
from workers.broker import broker
from workers.uow import state, timed


@broker.task(task_name="identity.password_reset_requested")
async def password_reset_requested(email: str, ip: str | None, user_agent: str | None, request_id: str | None) -> None:
    """Look the address up and email a reset link if an active account uses it. The request only enqueues this,
    so known and unknown addresses take the same time to answer (safe to deliver twice: a second link replaces
    nothing the first one proved)."""
    s = state()

    async def body():
        async with unit_of_work(s.sessionmaker) as session:
            ctx = RequestContext(ip=ip, user_agent=user_agent, request_id=request_id)
            await accounts.request_password_reset(session, ctx, email, base_url=s.settings.base_url)

    await timed("identity.password_reset_requested", body)


async def ask_for_password_reset(ctx: RequestContext, email: str) -> None:
    """Queue the reset lookup (constant time whatever the address)."""
    await password_reset_requested.kiq(email, ctx.ip, ctx.user_agent, ctx.request_id)
