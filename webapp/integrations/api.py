"""JSON API: an organization's webhook endpoints — register (the secret is in that answer only), list, change,
delete, rotate the secret, send a test event, read the delivery log, replay one message, recover failures — and
the catalog of event types."""

from __future__ import annotations

import uuid

from quart import Blueprint, current_app, g, url_for
from quart_schema import document_request

from webapp.core.forms import parse_body, parse_query
from webapp.core.openapi import Items, Page, query, raises, returns
from webapp.core.permissions import Perm, requires
from webapp.core.transaction import db_session
from webapp.integrations import queries, service
from webapp.integrations.outbox import EVENT_TYPES, message_id
from webapp.integrations.schemas import (
    AttemptOut,
    DeliveryDetail,
    DeliveryOut,
    DeliveryQuery,
    EndpointCreated,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    EventTypeOut,
    Queued,
    RecoverIn,
    SecretOut,
)

bp = Blueprint("webhooks_out_api", __name__, url_prefix="/api/v1/organizations/<org:org_id>/webhook-endpoints")
types_bp = Blueprint("webhook_types_api", __name__, url_prefix="/api/v1/webhook-event-types")


def _settings():
    return current_app.extensions["closedloop"]["settings"]


async def endpoint_out(endpoint) -> dict:
    """An endpoint with its live secrets' hints, as JSON."""
    secrets = [
        SecretOut.model_validate(s, from_attributes=True) for s in await service.secrets_of(db_session(), endpoint.id)
    ]
    return EndpointOut(
        id=endpoint.id, url=endpoint.url, description=endpoint.description, event_types=list(endpoint.event_types),
        status=endpoint.status, disabled_reason=endpoint.disabled_reason, disabled_at=endpoint.disabled_at,
        failing_since=endpoint.failing_since, secrets=secrets, created_at=endpoint.created_at, version=endpoint.version,
    ).model_dump(mode="json")  # fmt: skip


def delivery_out(delivery, event_type: str) -> DeliveryOut:
    """A delivery row -> its schema."""
    return DeliveryOut(
        id=delivery.id, message_id=message_id(delivery.message_id), event_type=event_type, status=delivery.status,
        attempts=delivery.attempts, next_attempt_at=delivery.next_attempt_at,
        last_status_code=delivery.last_status_code, last_error=delivery.last_error, created_at=delivery.created_at,
        finished_at=delivery.finished_at,
    )  # fmt: skip


@types_bp.get("")
@requires()
@returns(Items[EventTypeOut])
async def event_types():
    """Every event type an endpoint may subscribe to (`webhook.test` comes only from the test button)."""
    return {"items": [{"type": k, "description": v} for k, v in EVENT_TYPES.items()]}


@bp.get("")
@requires(Perm.WEBHOOKS_MANAGE)
@returns(Items[EndpointOut])
async def index(org_id: uuid.UUID | str):
    """The organization's endpoints, oldest first."""
    return {"items": [await endpoint_out(e) for e in await queries.list_endpoints(db_session(), g.ctx.org_id)]}


@bp.post("")
@requires(Perm.WEBHOOKS_MANAGE)
@document_request(EndpointIn)
@returns(EndpointCreated, 201, creates="webhooks_out_api.show")
@raises(409)
async def create(org_id: uuid.UUID | str):
    """Register an endpoint: 201 with its `whsec_` secret, shown this once. A URL that resolves to a private,
    loopback or metadata address is a 422 (production); at most 20 endpoints (409)."""
    data = await parse_body(EndpointIn)
    made = await service.create_endpoint(db_session(), g.ctx, _settings(), url=data.url, description=data.description,
                                         event_types=data.event_types, enabled=data.enabled)  # fmt: skip
    body = await endpoint_out(made.endpoint) | {"secret": made.secret}
    return body, 201, {"Location": url_for("webhooks_out_api.show", org_id=g.ctx.org_id, endpoint_id=made.endpoint.id)}


@bp.get("/<uuid:endpoint_id>")
@requires(Perm.WEBHOOKS_MANAGE)
@returns(EndpointOut)
async def show(org_id: uuid.UUID | str, endpoint_id: uuid.UUID):
    """One endpoint."""
    return await endpoint_out(await service.get_endpoint(db_session(), g.ctx, endpoint_id))


@bp.patch("/<uuid:endpoint_id>")
@requires(Perm.WEBHOOKS_MANAGE)
@document_request(EndpointPatch)
@returns(EndpointOut)
@raises(409)
async def update(org_id: uuid.UUID | str, endpoint_id: uuid.UUID):
    """Change the URL, description, event types, or enable/disable; `version` guards against a stale edit."""
    data = await parse_body(EndpointPatch)
    endpoint = await service.update_endpoint(
        db_session(), g.ctx, _settings(), endpoint_id, version=data.version, url=data.url,
        description=data.description, event_types=data.event_types, enabled=data.enabled,
    )  # fmt: skip
    return await endpoint_out(endpoint)


@bp.delete("/<uuid:endpoint_id>")
@requires(Perm.WEBHOOKS_MANAGE)
@returns(None, 204)
async def delete(org_id: uuid.UUID | str, endpoint_id: uuid.UUID):
    """Delete an endpoint with its log: 204."""
    await service.delete_endpoint(db_session(), g.ctx, endpoint_id)
    return "", 204


@bp.post("/<uuid:endpoint_id>/rotate-secret")
@requires(Perm.WEBHOOKS_MANAGE)
@returns(EndpointCreated)
async def rotate_secret(org_id: uuid.UUID | str, endpoint_id: uuid.UUID):
    """A new secret (in this answer only); deliveries carry signatures by the old and the new for 24 hours."""
    made = await service.rotate_secret(db_session(), g.ctx, _settings(), endpoint_id)
    return await endpoint_out(made.endpoint) | {"secret": made.secret}


@bp.post("/<uuid:endpoint_id>/test")
@requires(Perm.WEBHOOKS_MANAGE)
@returns(Queued, 202)
@raises(409)
async def send_test(org_id: uuid.UUID | str, endpoint_id: uuid.UUID):
    """Queue a `webhook.test` event to this endpoint (409 when it is disabled); its delivery shows in the log."""
    sent = await service.test_event(db_session(), g.ctx, endpoint_id)
    return Queued(messages=1, message_id=message_id(sent)).model_dump(mode="json"), 202


@bp.get("/<uuid:endpoint_id>/deliveries")
@requires(Perm.WEBHOOKS_MANAGE)
@query(DeliveryQuery)
@returns(Page[DeliveryOut])
async def deliveries(org_id: uuid.UUID | str, endpoint_id: uuid.UUID):
    """The delivery log, newest first: `status` filters; cursor pagination with `limit` and `cursor`."""
    args = parse_query(DeliveryQuery)
    endpoint = await service.get_endpoint(db_session(), g.ctx, endpoint_id)
    page = await queries.list_deliveries(db_session(), endpoint.id, status=args.status, cursor=args.cursor or None,
                                         limit=args.limit)  # fmt: skip
    return {"items": [delivery_out(d, t).model_dump(mode="json") for d, t in page.items],
            "next_cursor": page.next_cursor}  # fmt: skip


@bp.get("/<uuid:endpoint_id>/deliveries/<uuid:delivery_id>")
@requires(Perm.WEBHOOKS_MANAGE)
@returns(DeliveryDetail)
async def delivery(org_id: uuid.UUID | str, endpoint_id: uuid.UUID, delivery_id: uuid.UUID):
    """One delivery: the exact payload and every attempt with what came back."""
    endpoint = await service.get_endpoint(db_session(), g.ctx, endpoint_id)
    found, message, attempts = await queries.get_delivery(db_session(), endpoint.id, delivery_id)
    return DeliveryDetail(
        **delivery_out(found, message.event_type).model_dump(), payload=message.payload,
        attempt_log=[AttemptOut.model_validate(a, from_attributes=True) for a in attempts],
    ).model_dump(mode="json")  # fmt: skip


@bp.post("/<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/replay")
@requires(Perm.WEBHOOKS_MANAGE)
@returns(Queued, 202)
@raises(409)
async def replay(org_id: uuid.UUID | str, endpoint_id: uuid.UUID, delivery_id: uuid.UUID):
    """Send this message again (a fresh retry schedule); 409 while it is still pending."""
    found = await service.replay(db_session(), g.ctx, endpoint_id, delivery_id)
    return Queued(messages=1, message_id=message_id(found.message_id)).model_dump(mode="json"), 202


@bp.post("/<uuid:endpoint_id>/recover")
@requires(Perm.WEBHOOKS_MANAGE)
@document_request(RecoverIn)
@returns(Queued, 202)
@raises(409)
async def recover(org_id: uuid.UUID | str, endpoint_id: uuid.UUID):
    """Send again every message that failed since `since` (at most 14 days back): how many were queued."""
    data = await parse_body(RecoverIn)
    count = await service.recover(db_session(), g.ctx, endpoint_id, data.since)
    return Queued(messages=count).model_dump(mode="json"), 202
