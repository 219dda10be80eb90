"""Managing an organization's webhook endpoints (audited): register with a fresh secret shown once, change, enable
or disable, delete, rotate the secret (the old one keeps signing beside the new for 24 hours), send a test event,
replay one message, and recover every failed delivery since a moment."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.config import Settings
from webapp.core import audit
from webapp.core.errors import Conflict, NotFound, ValidationError
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext
from webapp.integrations import delivery, egress, signing
from webapp.integrations.models import WebhookDelivery, WebhookEndpoint, WebhookSecret
from webapp.integrations.outbox import EVENT_TYPES, send_test

ROTATION_OVERLAP = timedelta(hours=24)
MAX_ENDPOINTS = 20
RECOVER_WINDOW = timedelta(days=14)


@dataclass(frozen=True)
class WithSecret:
    """An endpoint and the secret just made for it (shown this once)."""

    endpoint: WebhookEndpoint
    secret: str


def snapshot(endpoint: WebhookEndpoint) -> dict:
    """What the audit log keeps of an endpoint (never a secret)."""
    return {"url": endpoint.url, "description": endpoint.description, "event_types": list(endpoint.event_types),
            "status": endpoint.status}  # fmt: skip


def clean_event_types(names) -> list[str]:
    """The listed event types, known and without repeats (empty: every type)."""
    names = [str(n).strip() for n in names or [] if str(n).strip()]
    unknown = sorted(set(names) - set(EVENT_TYPES) | ({"webhook.test"} & set(names)))
    if unknown:
        raise ValidationError.field("event_types", f"Unknown event types: {', '.join(unknown)}.")
    return sorted(set(names))


async def check_url(url: str, settings: Settings) -> str:
    """A URL we may send to, as typed (422 with the reason otherwise)."""
    url = url.strip()
    if not url or len(url) > 2000:
        raise ValidationError.field("url", "Enter the URL events should go to (at most 2,000 characters).")
    if settings.is_production and not url.lower().startswith("https://"):
        raise ValidationError.field("url", "Use an https:// URL: events carry your organization's data.")
    try:
        await egress.resolve(url, allow_loopback=delivery.allow_loopback(settings))
    except egress.EgressRefused as exc:
        raise ValidationError.field("url", str(exc)) from exc
    return url


async def _new_secret(session: AsyncSession, endpoint: WebhookEndpoint, settings: Settings) -> str:
    secret = signing.new_secret()
    session.add(
        WebhookSecret(
            id=new_id(),
            organization_id=endpoint.organization_id,
            endpoint_id=endpoint.id,
            secret_encrypted=signing.seal(secret, settings.secret_key),
            hint=signing.hint(secret),
        )
    )
    return secret


async def create_endpoint(
    session: AsyncSession, ctx: RequestContext, settings: Settings, *, url: str, description: str = "",
    event_types=(), enabled: bool = True,
) -> WithSecret:  # fmt: skip
    """Register an endpoint with a fresh `whsec_` secret."""
    url = await check_url(url, settings)
    kinds = clean_event_types(event_types)
    count = len((await session.execute(
        select(WebhookEndpoint.id).where(WebhookEndpoint.organization_id == ctx.org_id)
    )).all())  # fmt: skip
    if count >= MAX_ENDPOINTS:
        raise Conflict(f"An organization has at most {MAX_ENDPOINTS} webhook endpoints; delete one first.")
    endpoint = WebhookEndpoint(
        id=new_id(), organization_id=ctx.org_id, url=url, description=description.strip()[:500], event_types=kinds,
        status="enabled" if enabled else "disabled", disabled_reason=None if enabled else "manual",
        disabled_at=None if enabled else datetime.now(UTC), created_by_user_id=ctx.user_id, version=1,
    )  # fmt: skip
    session.add(endpoint)
    await session.flush()
    secret = await _new_secret(session, endpoint, settings)
    await audit.record(session, ctx, "webhook_endpoint.create", entity_type="webhook_endpoint",
                       entity_id=endpoint.id, after=snapshot(endpoint))  # fmt: skip
    return WithSecret(endpoint, secret)


async def get_endpoint(session: AsyncSession, ctx: RequestContext, endpoint_id: uuid.UUID, lock=False):
    """One endpoint of the organization (404 otherwise)."""
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id,
                                         WebhookEndpoint.organization_id == ctx.org_id)  # fmt: skip
    found = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound()
    return found


async def update_endpoint(
    session: AsyncSession, ctx: RequestContext, settings: Settings, endpoint_id: uuid.UUID, *, version=None,
    url=None, description=None, event_types=None, enabled=None,
) -> WebhookEndpoint:  # fmt: skip
    """Change what was given; enabling again clears the failure clock (409 on a stale version)."""
    endpoint = await get_endpoint(session, ctx, endpoint_id, lock=True)
    if version is not None and endpoint.version != version:
        raise Conflict(details={"current": snapshot(endpoint) | {"version": endpoint.version}})
    before = snapshot(endpoint)
    if url is not None:
        endpoint.url = await check_url(url, settings)
    if description is not None:
        endpoint.description = description.strip()[:500]
    if event_types is not None:
        endpoint.event_types = clean_event_types(event_types)
    if enabled is True and endpoint.status != "enabled":
        endpoint.status, endpoint.disabled_reason, endpoint.disabled_at, endpoint.failing_since = \
            "enabled", None, None, None  # fmt: skip
    elif enabled is False and endpoint.status == "enabled":
        endpoint.status, endpoint.disabled_reason, endpoint.disabled_at = "disabled", "manual", datetime.now(UTC)
    if snapshot(endpoint) != before:
        endpoint.version += 1
        endpoint.updated_at = datetime.now(UTC)
        await audit.record(session, ctx, "webhook_endpoint.update", entity_type="webhook_endpoint",
                           entity_id=endpoint.id, before=before, after=snapshot(endpoint))  # fmt: skip
    return endpoint


async def delete_endpoint(session: AsyncSession, ctx: RequestContext, endpoint_id: uuid.UUID) -> None:
    """Remove an endpoint with its secrets, deliveries and log."""
    endpoint = await get_endpoint(session, ctx, endpoint_id, lock=True)
    await audit.record(session, ctx, "webhook_endpoint.delete", entity_type="webhook_endpoint",
                       entity_id=endpoint.id, before=snapshot(endpoint))  # fmt: skip
    await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id))


async def rotate_secret(
    session: AsyncSession, ctx: RequestContext, settings: Settings, endpoint_id: uuid.UUID
) -> WithSecret:
    """A new secret now; the ones in use keep signing beside it for 24 hours, then stop."""
    endpoint = await get_endpoint(session, ctx, endpoint_id, lock=True)
    now = datetime.now(UTC)
    await session.execute(
        update(WebhookSecret)
        .where(WebhookSecret.endpoint_id == endpoint.id,
               (WebhookSecret.expires_at.is_(None)) | (WebhookSecret.expires_at > now + ROTATION_OVERLAP))
        .values(expires_at=now + ROTATION_OVERLAP)
    )  # fmt: skip
    secret = await _new_secret(session, endpoint, settings)
    await audit.record(session, ctx, "webhook_endpoint.secret_rotated", entity_type="webhook_endpoint",
                       entity_id=endpoint.id, metadata={"old_secrets_expire_at": now + ROTATION_OVERLAP})  # fmt: skip
    return WithSecret(endpoint, secret)


async def secrets_of(session: AsyncSession, endpoint_id: uuid.UUID) -> list[WebhookSecret]:
    """The endpoint's secrets still signing (newest first), for the page: hints and expiry only."""
    now = datetime.now(UTC)
    return list((await session.execute(
        select(WebhookSecret).where(WebhookSecret.endpoint_id == endpoint_id,
                                    (WebhookSecret.expires_at.is_(None)) | (WebhookSecret.expires_at > now))
        .order_by(WebhookSecret.created_at.desc())
    )).scalars())  # fmt: skip


async def test_event(session: AsyncSession, ctx: RequestContext, endpoint_id: uuid.UUID) -> uuid.UUID:
    """Send `webhook.test` to this endpoint through the normal delivery path (same SSRF checks, same signing)."""
    endpoint = await get_endpoint(session, ctx, endpoint_id)
    if endpoint.status != "enabled":
        raise Conflict("Enable the endpoint to send it a test event.")
    message = await send_test(session, ctx.org_id, endpoint.id, ctx.user_id)
    await audit.record(session, ctx, "webhook_endpoint.test_sent", entity_type="webhook_endpoint",
                       entity_id=endpoint.id, metadata={"message_id": message})  # fmt: skip
    return message


async def replay(session: AsyncSession, ctx: RequestContext, endpoint_id: uuid.UUID, delivery_id: uuid.UUID):
    """Send one message to this endpoint again, whatever became of it before (409 while it is still pending)."""
    endpoint = await get_endpoint(session, ctx, endpoint_id)
    if endpoint.status != "enabled":
        raise Conflict("Enable the endpoint to replay messages to it.")
    found = (await session.execute(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint.id)
        .with_for_update()
    )).scalar_one_or_none()  # fmt: skip
    if found is None:
        raise NotFound()
    if found.status == "pending":
        raise Conflict("This message is still being delivered; its next attempt is scheduled.")
    await delivery.requeue(session, ctx.org_id, [found], datetime.now(UTC), "replay")
    await audit.record(session, ctx, "webhook_endpoint.replay", entity_type="webhook_endpoint",
                       entity_id=endpoint.id, metadata={"delivery_id": found.id})  # fmt: skip
    return found


async def recover(session: AsyncSession, ctx: RequestContext, endpoint_id: uuid.UUID, since: datetime) -> int:
    """Send again every message to this endpoint that failed since `since` (at most 14 days back)."""
    endpoint = await get_endpoint(session, ctx, endpoint_id)
    if endpoint.status != "enabled":
        raise Conflict("Enable the endpoint to recover messages to it.")
    if since.tzinfo is None:
        raise ValidationError.field("since", "Give a time with its zone (for example 2031-05-01T00:00:00Z).")
    if since < datetime.now(UTC) - RECOVER_WINDOW:
        raise ValidationError.field("since", "Recovery reaches back at most 14 days.")
    failed = list((await session.execute(
        select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "failed",
                                      WebhookDelivery.created_at >= since)
        .order_by(WebhookDelivery.created_at).with_for_update()
    )).scalars())  # fmt: skip
    count = await delivery.requeue(session, ctx.org_id, failed, datetime.now(UTC), "recover")
    await audit.record(session, ctx, "webhook_endpoint.recover", entity_type="webhook_endpoint",
                       entity_id=endpoint.id, metadata={"since": since, "messages": count})  # fmt: skip
    return count
