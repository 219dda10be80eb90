"""Events into the outbox: `emit` writes the message and one delivery per endpoint that wants it in the caller's
transaction (so an event exists exactly when its change committed) and asks a worker to deliver once that
transaction commits. The catalog below is the public list of event types (docs/webhooks.md)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import any_, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.audit import jsonable
from webapp.core.ids import new_id
from webapp.core.transaction import after_commit
from webapp.integrations.models import WebhookDelivery, WebhookEndpoint, WebhookMessage

EVENT_TYPES: dict[str, str] = {
    "mission.created": "A mission was created",
    "mission.updated": "A mission's details changed",
    "mission.deleted": "A mission was deleted",
    "simulation_run.started": "A simulation run was queued",
    "simulation_run.completed": "A simulation run finished with results",
    "simulation_run.failed": "A simulation run failed",
    "simulation_run.canceled": "A simulation run was canceled",
    "product.recorded": "A product was recorded",
    "member.added": "Someone joined the organization",
    "member.removed": "A member was removed",
    "invoice.finalized": "An invoice was issued",
    "invoice.paid": "An invoice was paid",
    "webhook.test": "A test event sent from the integrations page",
}


def message_id(message: WebhookMessage | uuid.UUID) -> str:
    """The `webhook-id` a receiver deduplicates on."""
    return "msg_" + (message.id if isinstance(message, WebhookMessage) else message).hex


def payload(event_type: str, data: dict, at: datetime) -> dict:
    """The Standard Webhooks body: type, timestamp and the event's data."""
    return {"type": event_type, "timestamp": at.isoformat().replace("+00:00", "Z"), "data": jsonable(data)}


async def emit(session: AsyncSession, org_id: uuid.UUID, event_type: str, data: dict) -> uuid.UUID | None:
    """Queue `event_type` for every enabled endpoint of the organization that takes it; the message id, or None
    when no endpoint wants it (nothing is stored then)."""
    assert event_type in EVENT_TYPES, event_type  # a typo would silently reach nobody
    endpoints = (
        await session.execute(
            select(WebhookEndpoint.id).where(
                WebhookEndpoint.organization_id == org_id,
                WebhookEndpoint.status == "enabled",
                (func.cardinality(WebhookEndpoint.event_types) == 0)
                | (literal(event_type) == any_(WebhookEndpoint.event_types)),
            )
        )
    ).scalars().all()  # fmt: skip
    if not endpoints:
        return None
    return await _queue(session, org_id, event_type, data, endpoints)


async def _queue(session, org_id, event_type, data, endpoint_ids, trigger: str = "schedule") -> uuid.UUID:
    now = datetime.now(UTC)
    message = new_id()
    await session.execute(insert(WebhookMessage).values(
        id=message, organization_id=org_id, event_type=event_type, payload=payload(event_type, data, now),
        created_at=now))  # fmt: skip
    deliveries = [{"id": new_id(), "organization_id": org_id, "message_id": message, "endpoint_id": e,
                   "next_attempt_at": now, "created_at": now} for e in endpoint_ids]  # fmt: skip
    await session.execute(insert(WebhookDelivery), deliveries)
    enqueue_after_commit(session, org_id, [d["id"] for d in deliveries], trigger)
    return message


async def send_test(session: AsyncSession, org_id: uuid.UUID, endpoint_id: uuid.UUID, user_id) -> uuid.UUID:
    """A `webhook.test` message to one endpoint only (through the same delivery path and checks as any event)."""
    data = {"endpoint_id": endpoint_id, "requested_by": user_id, "note": "A test event from ClosedLoop."}
    return await _queue(session, org_id, "webhook.test", data, [endpoint_id], trigger="test")


def enqueue_after_commit(
    session: AsyncSession, org_id: uuid.UUID, delivery_ids: list[uuid.UUID], trigger: str = "schedule"
) -> None:
    """Ask a worker for each delivery once this transaction commits (the minute sweep catches any lost)."""

    async def enqueue() -> None:
        from webapp.integrations.tasks import deliver  # the task module imports this one

        for delivery_id in delivery_ids:
            await deliver.kiq(str(org_id), str(delivery_id), trigger)

    after_commit(session, enqueue)
