"""Task shells for collaboration: the scheduled collector of expired uploads and unused stored objects."""

from __future__ import annotations

from webapp.collaboration import attachments
from webapp.collaboration.storage import store_for
from workers.broker import broker
from workers.uow import state, timed


@broker.task(
    task_name="collaboration.collect_attachments", schedule=[{"cron": "*/10 * * * *", "schedule_id": "attachments-gc"}]
)
async def collect_attachments() -> dict:
    """Delete presigned uploads nobody completed and stored bytes no attachment has used for a day."""
    s = state()
    return await timed(
        "collaboration.collect_attachments", lambda: attachments.collect(s.sessionmaker, store_for(s.settings))
    )
