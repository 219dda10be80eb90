"""JSON API of settings: an organization's (and, for staff, the platform's) at `/organizations/:org/settings`, a
person's at `/users/:id/settings` (themselves or staff), one stored value at `/settings/:id`."""

from __future__ import annotations

import uuid
from decimal import Decimal

from quart import Blueprint, g
from quart_schema import document_request

from webapp.core import audit
from webapp.core.errors import NotFound
from webapp.core.forms import parse_body
from webapp.core.openapi import Items, raises, returns
from webapp.core.permissions import Perm, requires
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import db_session
from webapp.settings import queries, service
from webapp.settings.enums import SettingScope
from webapp.settings.registry import REGISTRY
from webapp.settings.schemas import SettingIn, SettingOut, SettingPatch, StoredSettingOut

org_bp = Blueprint("settings_api", __name__, url_prefix="/api/v1/organizations/<org:org_id>/settings")
bp = Blueprint("setting_api", __name__, url_prefix="/api/v1")


def _plain(value):
    return float(value) if isinstance(value, Decimal) else value


def resolved_out(item: queries.Resolved) -> dict:
    """Resolved -> response JSON."""
    d, own = item.definition, item.own
    return {
        "key": d.key,
        "label": d.label,
        "description": d.description,
        "topic": d.topic,
        "type": d.kind,
        "scopes": [str(s) for s in d.scopes],
        "default": _plain(d.default),
        "value": _plain(item.value),
        "source": item.source,
        "id": str(own.id) if own else None,
        "version": own.version if own else None,
        "unit": d.unit,
        "minimum": _plain(d.minimum),
        "maximum": _plain(d.maximum),
        "choices": [c for c, _ in d.choices],
    }


def stored_out(row) -> dict:
    """A stored value -> response JSON."""
    definition = REGISTRY[row.key]
    return {
        "id": str(row.id),
        "key": row.key,
        "scope": str(row.scope),
        "value": _plain(definition.from_json(row.value)),
        "version": row.version,
    }


@org_bp.get("")
@requires(Perm.ORG_READ)
@returns(Items[SettingOut])
async def list_organization_settings(org_id: uuid.UUID | str):
    """The organization's settings: each effective value and its source (organization, system or default)."""
    items = await queries.for_scope(db_session(), SettingScope.ORGANIZATION, org_id=g.ctx.org_id)
    return {"items": [resolved_out(i) for i in items]}


@org_bp.post("")
@requires(Perm.ORG_READ)
@document_request(SettingIn)
@returns(StoredSettingOut, 201)
@returns(StoredSettingOut)
@raises(422)
async def set_organization_setting(org_id: uuid.UUID | str):
    """Set a value: `organization` scope needs the setting's permission (org:write); `system` is staff only.
    201 when it was not set there yet, 200 when it changed; every change is audited with old and new value."""
    data = await parse_body(SettingIn)
    row, created = await service.set_setting(db_session(), g.ctx, data.key, data.value, scope=SettingScope(data.scope))
    return stored_out(row), 201 if created else 200


@bp.get("/users/<uuid:user_id>/settings")
@requires()
@returns(Items[SettingOut])
async def list_user_settings(user_id: uuid.UUID):
    """A person's settings (yourself, or anyone for ClosedLoop staff): each effective value and its source."""
    session = db_session()
    if user_id != g.ctx.user_id:
        if not g.ctx.is_platform_admin or g.ctx.api_key_id is not None:
            raise NotFound("No such user.")
        await enable_rls_bypass(session, reason="staff reads a person's settings")
        await audit.record(
            session, g.ctx, "platform.user_settings_read", entity_type="user", entity_id=user_id, organization_id=None
        )
    items = await queries.for_scope(session, SettingScope.USER, user_id=user_id)
    return {"items": [resolved_out(i) for i in items]}


@bp.patch("/settings/<uuid:setting_id>")
@requires()
@document_request(SettingPatch)
@returns(StoredSettingOut)
@raises(422)
async def update_setting(setting_id: uuid.UUID):
    """Change one stored value (its scope's rules apply); a stale `version` is a 409 with the saved value."""
    data = await parse_body(SettingPatch)
    row = await service.update_setting(db_session(), g.ctx, setting_id, data.value, version=data.version)
    return stored_out(row)
