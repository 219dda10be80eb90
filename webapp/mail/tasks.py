"""Task shells for email delivery."""

from __future__ import annotations

import uuid

from webapp.mail import service
from workers.broker import broker
from workers.uow import state, timed


@broker.task(task_name="mail.send_email")
async def send_email(email_id: str) -> str | None:
    """Deliver one outbox email (idempotent: only a queued row is sent)."""
    s = state()
    status = await timed(
        "mail.send_email", lambda: service.deliver_email(s.sessionmaker, s.settings, uuid.UUID(email_id))
    )
    return str(status) if status else None


@broker.task(task_name="mail.deliver_due", schedule=[{"cron": "* * * * *", "schedule_id": "mail-retry"}])
async def deliver_due() -> int:
    """Every minute: retry emails still queued."""
    s = state()
    return await timed("mail.deliver_due", lambda: service.deliver_due(s.sessionmaker, s.settings))
