"""API key pages: list, create (the secret shown once), disable/enable, delete."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from quart import Blueprint, current_app, flash, g, redirect, request, url_for

from webapp.apiedge.pipeline import current_use
from webapp.apikeys import queries, service
from webapp.apikeys.forms import PRESETS, ApiKeyForm, presets_of
from webapp.core.errors import Conflict, ValidationError
from webapp.core.forms import choices, show_errors
from webapp.core.htmx import render
from webapp.core.permissions import Perm, requires
from webapp.core.transaction import db_session
from webapp.iam.catalog import PERMISSION_DESCRIPTIONS

bp = Blueprint("apikeys", __name__, url_prefix="/o/<org_slug>/api-keys")


def _form(formdata=None) -> ApiKeyForm:
    form = ApiKeyForm(formdata=formdata)
    form.permissions.choices = choices(
        (p.value, p.value) for p in PERMISSION_DESCRIPTIONS if p.value in g.ctx.permissions
    )
    return form


async def _page(form: ApiKeyForm | None = None, *, status: int = 200, created=None, raw: str | None = None):
    everyone = g.ctx.can(Perm.APIKEYS_ADMIN)
    keys = await queries.list_keys(db_session(), g.ctx.org_id, user_id=None if everyone else g.ctx.user_id)
    use = await current_use(g.ctx, [k.id for k in keys])
    return await render(
        "apikeys/index.html",
        keys=keys,
        use=use,
        form=form or _form(),
        created=created,
        raw=raw,
        everyone=everyone,
        descriptions=PERMISSION_DESCRIPTIONS,
        presets=PRESETS,
        presets_of=presets_of,
        status=status,
    )


REVEAL_SECONDS = 600


def _reveal_key(token: str) -> str:
    settings = current_app.extensions["closedloop"]["settings"]
    return f"{settings.redis_namespace}:apikey-reveal:{token}"


async def _hold_secret(key, raw: str) -> str:
    """Keep a new key's secret for the one page view that follows the create (POST-redirect-GET)."""
    token = secrets.token_urlsafe(16)
    value = json.dumps({"key_id": str(key.id), "name": key.name, "raw": raw, "user_id": str(g.ctx.user_id)})
    await current_app.extensions["closedloop"]["redis"].set(_reveal_key(token), value, ex=REVEAL_SECONDS)
    return token


async def _take_secret(token: str) -> dict | None:
    """The held secret, once: reading it deletes it, so a reload or a shared link shows nothing."""
    if not token or len(token) > 64:
        return None
    raw = await current_app.extensions["closedloop"]["redis"].getdel(_reveal_key(token))
    held = json.loads(raw) if raw else None
    return held if held and held["user_id"] == str(g.ctx.user_id) else None


@bp.get("")
@requires(Perm.APIKEYS_WRITE)
async def index():
    """Your keys (everyone's for key administrators) and the form for a new one; right after a create, the new
    key's secret, this one time."""
    held = await _take_secret(request.args.get("created", ""))
    if held:
        return await _page(created=held, raw=held["raw"])
    return await _page()


@bp.post("")
@requires(Perm.APIKEYS_WRITE)
async def create():
    """Make a key; the page shows its secret this one time."""
    form = _form(await request.form)
    form.permissions.choices = choices((p.value, p.value) for p in PERMISSION_DESCRIPTIONS)  # the service checks scopes
    if not form.validate():
        return await _page(form, status=422)
    expires = None if form.expires_in.data == "never" else datetime.now(UTC) + timedelta(days=int(form.expires_in.data))
    try:
        key, raw = await service.create_key(
            db_session(), g.ctx, name=form.name.data, permissions=form.permissions.data, expires_at=expires
        )
    except (ValidationError, Conflict) as exc:
        show_errors(form, exc)
        if not exc.details.get("fields"):
            form.name.errors = [exc.message]
        return await _page(form, status=exc.status_code)
    return redirect(url_for("apikeys.index", created=await _hold_secret(key, raw)), 303)


@bp.post("/<uuid:key_id>/<any(disable, enable):action>")
@requires(Perm.APIKEYS_WRITE)
async def toggle(key_id: uuid.UUID, action: str):
    """Switch a key off (or back on) without deleting it."""
    key = await service.update_key(db_session(), g.ctx, key_id, enabled=action == "enable")
    await flash(f"Key “{key.name}” {'enabled' if key.enabled else 'disabled'}.", "success")
    return redirect(url_for("apikeys.index"), 303)


@bp.post("/<uuid:key_id>/delete")
@requires(Perm.APIKEYS_WRITE)
async def delete(key_id: uuid.UUID):
    """Revoke a key for good."""
    key = await service.delete_key(db_session(), g.ctx, key_id)
    await flash(f"Key “{key.name}” deleted. Clients using it are refused from now on.", "success")
    return redirect(url_for("apikeys.index"), 303)
