"""Pages: the organization's webhook endpoints (register one, its secret shown once), one endpoint (edit, secrets
and rotation, test event, recovery, the delivery log), and one delivery (the payload and every attempt, replay)."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from quart import Blueprint, current_app, flash, g, redirect, request, url_for

from webapp.core.errors import Conflict, ValidationError
from webapp.core.forms import show_errors
from webapp.core.htmx import render
from webapp.core.permissions import Perm, requires
from webapp.core.transaction import db_session
from webapp.integrations import queries, service
from webapp.integrations.forms import EndpointForm
from webapp.integrations.outbox import EVENT_TYPES, message_id

bp = Blueprint("integrations", __name__, url_prefix="/o/<org_slug>/webhooks")
REVEAL_SECONDS = 600
LOG_STATUSES = ("pending", "succeeded", "failed")


def _settings():
    return current_app.extensions["closedloop"]["settings"]


def _reveal_key(token: str) -> str:
    return f"{_settings().redis_namespace}:webhook-secret-reveal:{token}"


async def _hold_secret(endpoint_id: uuid.UUID, secret: str) -> str:
    """Keep a new secret for the one page view after the POST (POST-redirect-GET), for this person only."""
    token = secrets.token_urlsafe(16)
    value = json.dumps({"endpoint_id": str(endpoint_id), "secret": secret, "user_id": str(g.ctx.user_id)})
    await current_app.extensions["closedloop"]["redis"].set(_reveal_key(token), value, ex=REVEAL_SECONDS)
    return token


async def _take_secret(endpoint_id: uuid.UUID) -> str | None:
    token = request.args.get("secret", "")
    if not token or len(token) > 64:
        return None
    raw = await current_app.extensions["closedloop"]["redis"].getdel(_reveal_key(token))
    held = json.loads(raw) if raw else None
    ok = held and held["user_id"] == str(g.ctx.user_id) and held["endpoint_id"] == str(endpoint_id)
    return held["secret"] if ok else None


async def _index(form: EndpointForm | None = None, status: int = 200):
    endpoints = await queries.list_endpoints(db_session(), g.ctx.org_id)
    health = await queries.recent_health(db_session(), [e.id for e in endpoints])
    return await render("integrations/index.html", endpoints=endpoints, health=health, form=form or EndpointForm(),
                        event_types=EVENT_TYPES, status=status)  # fmt: skip


@bp.get("")
@requires(Perm.WEBHOOKS_MANAGE)
async def index():
    """Every endpoint with its state and the last day's deliveries, and the form for a new one."""
    return await _index()


@bp.post("")
@requires(Perm.WEBHOOKS_MANAGE)
async def create():
    """Register an endpoint; its page shows the new secret this one time."""
    form = EndpointForm(await request.form)
    if not form.validate():
        return await _index(form, 422)
    try:
        made = await service.create_endpoint(db_session(), g.ctx, _settings(), url=form.url.data,
                                             description=form.description.data or "",
                                             event_types=form.event_types.data, enabled=form.enabled.data)  # fmt: skip
    except (ValidationError, Conflict) as exc:
        show_errors(form, exc)
        if not exc.details.get("fields"):
            form.url.errors = [exc.message]
        return await _index(form, exc.status_code)
    token = await _hold_secret(made.endpoint.id, made.secret)
    return redirect(url_for("integrations.endpoint", endpoint_id=made.endpoint.id, secret=token), 303)


async def _endpoint_page(endpoint_id: uuid.UUID, form: EndpointForm | None = None, status: int = 200,
                         secret: str | None = None):  # fmt: skip
    session = db_session()
    endpoint = await service.get_endpoint(session, g.ctx, endpoint_id)
    wanted = request.args.get("status", "")
    log = await queries.list_deliveries(session, endpoint.id, status=wanted if wanted in LOG_STATUSES else None,
                                        cursor=request.args.get("cursor") or None, limit=25)  # fmt: skip
    if form is None:
        form = EndpointForm(
            data={
                "url": endpoint.url,
                "description": endpoint.description,
                "event_types": list(endpoint.event_types),
                "enabled": endpoint.status == "enabled",
            }
        )
    template = "integrations/_log.html" if request.headers.get("HX-Target") == "delivery-log" else \
        "integrations/endpoint.html"  # fmt: skip
    return await render(
        template, endpoint=endpoint, form=form, secret=secret, secrets=await service.secrets_of(session, endpoint.id),
        log=log, wanted=wanted, statuses=LOG_STATUSES, message_id=message_id, event_types=EVENT_TYPES,
        recover_default=(datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"), status=status,
        pending=any(d.status == "pending" for d, _ in log.items),
    )  # fmt: skip


@bp.get("/<uuid:endpoint_id>")
@requires(Perm.WEBHOOKS_MANAGE)
async def endpoint(endpoint_id: uuid.UUID):
    """One endpoint: its settings, secrets, test and recovery buttons, and its delivery log (refreshing itself
    while deliveries are pending)."""
    return await _endpoint_page(endpoint_id, secret=await _take_secret(endpoint_id))


@bp.post("/<uuid:endpoint_id>")
@requires(Perm.WEBHOOKS_MANAGE)
async def update(endpoint_id: uuid.UUID):
    """Save the endpoint's URL, description, events and state."""
    form = EndpointForm(await request.form)
    if not form.validate():
        return await _endpoint_page(endpoint_id, form, 422)
    try:
        await service.update_endpoint(db_session(), g.ctx, _settings(), endpoint_id, url=form.url.data,
                                      description=form.description.data or "", event_types=form.event_types.data,
                                      enabled=form.enabled.data)  # fmt: skip
    except ValidationError as exc:
        show_errors(form, exc)
        return await _endpoint_page(endpoint_id, form, exc.status_code)
    await flash("Endpoint saved.", "success")
    return redirect(url_for("integrations.endpoint", endpoint_id=endpoint_id), 303)


@bp.post("/<uuid:endpoint_id>/delete")
@requires(Perm.WEBHOOKS_MANAGE)
async def delete(endpoint_id: uuid.UUID):
    """Delete the endpoint and its log."""
    await service.delete_endpoint(db_session(), g.ctx, endpoint_id)
    await flash("Endpoint deleted. No more events go to it.", "success")
    return redirect(url_for("integrations.index"), 303)


@bp.post("/<uuid:endpoint_id>/rotate")
@requires(Perm.WEBHOOKS_MANAGE)
async def rotate(endpoint_id: uuid.UUID):
    """A new secret, shown once; the old one signs beside it for 24 hours."""
    made = await service.rotate_secret(db_session(), g.ctx, _settings(), endpoint_id)
    token = await _hold_secret(endpoint_id, made.secret)
    return redirect(url_for("integrations.endpoint", endpoint_id=endpoint_id, secret=token), 303)


@bp.post("/<uuid:endpoint_id>/test")
@requires(Perm.WEBHOOKS_MANAGE)
async def test(endpoint_id: uuid.UUID):
    """Send a test event; it shows at the top of the log."""
    try:
        await service.test_event(db_session(), g.ctx, endpoint_id)
    except Conflict as exc:
        await flash(exc.message, "error")
    else:
        await flash("Test event queued; its delivery appears in the log below.", "success")
    return redirect(url_for("integrations.endpoint", endpoint_id=endpoint_id), 303)


@bp.post("/<uuid:endpoint_id>/recover")
@requires(Perm.WEBHOOKS_MANAGE)
async def recover(endpoint_id: uuid.UUID):
    """Send again every message that failed since the given moment."""
    await service.get_endpoint(db_session(), g.ctx, endpoint_id)  # another organization's: 404 before the form
    raw = (await request.form).get("since", "")
    try:
        since = datetime.fromisoformat(raw).replace(tzinfo=UTC) if raw else None
    except ValueError:
        since = None
    if since is None:
        await flash("Pick the moment to recover from.", "error")
        return redirect(url_for("integrations.endpoint", endpoint_id=endpoint_id), 303)
    try:
        count = await service.recover(db_session(), g.ctx, endpoint_id, since)
    except (Conflict, ValidationError) as exc:
        await flash(exc.details.get("fields", {}).get("since", [exc.message])[0], "error")
    else:
        await flash(f"{count} failed message{'s' if count != 1 else ''} queued again.", "success")
    return redirect(url_for("integrations.endpoint", endpoint_id=endpoint_id), 303)


@bp.get("/<uuid:endpoint_id>/deliveries/<uuid:delivery_id>")
@requires(Perm.WEBHOOKS_MANAGE)
async def delivery(endpoint_id: uuid.UUID, delivery_id: uuid.UUID):
    """One delivery: the exact payload sent and every attempt with what came back."""
    endpoint = await service.get_endpoint(db_session(), g.ctx, endpoint_id)
    found, message, attempts = await queries.get_delivery(db_session(), endpoint.id, delivery_id)
    return await render("integrations/delivery.html", endpoint=endpoint, delivery=found, message=message,
                        attempts=attempts, message_id=message_id,
                        payload=json.dumps(message.payload, indent=2, sort_keys=True))  # fmt: skip


@bp.post("/<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/replay")
@requires(Perm.WEBHOOKS_MANAGE)
async def replay(endpoint_id: uuid.UUID, delivery_id: uuid.UUID):
    """Send this message again."""
    try:
        await service.replay(db_session(), g.ctx, endpoint_id, delivery_id)
    except Conflict as exc:
        await flash(exc.message, "error")
    else:
        await flash("Message queued again.", "success")
    return redirect(url_for("integrations.delivery", endpoint_id=endpoint_id, delivery_id=delivery_id), 303)
