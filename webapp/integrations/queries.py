"""Reads for the integrations page and API: endpoints with their secrets' hints, the delivery log, attempts."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.errors import NotFound
from webapp.core.pagination import Page, paginate
from webapp.integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage


async def list_endpoints(session: AsyncSession, org_id: uuid.UUID) -> list[WebhookEndpoint]:
    """The organization's endpoints, oldest first."""
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.organization_id == org_id)
    return list((await session.execute(stmt.order_by(WebhookEndpoint.created_at))).scalars())


async def list_deliveries(
    session: AsyncSession, endpoint_id: uuid.UUID, *, status: str | None = None, cursor: str | None = None,
    limit: int = 25,
) -> Page:  # fmt: skip
    """The endpoint's deliveries, newest first, each with its message's type: rows of (delivery, event_type)."""
    stmt = (select(WebhookDelivery, WebhookMessage.event_type)
            .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
            .where(WebhookDelivery.endpoint_id == endpoint_id))  # fmt: skip
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    return await paginate(session, stmt, keys=[WebhookDelivery.created_at, WebhookDelivery.id], cursor=cursor,
                          limit=limit, scalars=False)  # fmt: skip


async def get_delivery(session: AsyncSession, endpoint_id: uuid.UUID, delivery_id: uuid.UUID):
    """(delivery, message, attempts oldest first) of one delivery of the endpoint (404 otherwise)."""
    row = (await session.execute(
        select(WebhookDelivery, WebhookMessage).join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id)
    )).first()  # fmt: skip
    if row is None:
        raise NotFound()
    attempts = (await session.execute(
        select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id).order_by(WebhookAttempt.started_at)
    )).scalars().all()  # fmt: skip
    return row[0], row[1], list(attempts)


async def recent_health(session: AsyncSession, endpoint_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict]:
    """Per endpoint, its deliveries of the last 24 hours by state."""
    if not endpoint_ids:
        return {}
    rows = (await session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count())
        .where(WebhookDelivery.endpoint_id.in_(endpoint_ids),
               WebhookDelivery.created_at > func.now() - text("interval '1 day'"))
        .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.status)
    )).all()  # fmt: skip
    found: dict[uuid.UUID, dict] = {e: {"pending": 0, "succeeded": 0, "failed": 0} for e in endpoint_ids}
    for endpoint_id, status, count in rows:
        found[endpoint_id][status] = count
    return found
