"""JSON API: API keys of the calling member (all members' for key administrators)."""

from __future__ import annotations

import uuid

from quart import Blueprint, g, url_for
from quart_schema import document_request

from webapp.apikeys import queries, service
from webapp.apikeys.schemas import ApiKeyCreated, ApiKeyIn, ApiKeyOut, ApiKeyPatch
from webapp.core.forms import parse_body
from webapp.core.openapi import Items, raises, returns
from webapp.core.permissions import Perm, requires
from webapp.core.transaction import db_session

bp = Blueprint("apikeys_api", __name__, url_prefix="/api/v1/organizations/<org:org_id>/api-keys")


def key_out(row: queries.KeyRow) -> ApiKeyOut:
    """KeyRow -> response schema."""
    return ApiKeyOut(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        permissions=row.permissions,
        enabled=row.enabled,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        user_id=row.user_id,
        created_at=row.created_at,
        version=row.version,
    )


def _owner_filter():
    return None if g.ctx.can(Perm.APIKEYS_ADMIN) else g.ctx.user_id


@bp.get("")
@requires(Perm.APIKEYS_WRITE)
@returns(Items[ApiKeyOut])
async def index(org_id: uuid.UUID | str):
    """Live keys, newest first."""
    rows = await queries.list_keys(db_session(), g.ctx.org_id, user_id=_owner_filter())
    return {"items": [key_out(r).model_dump(mode="json") for r in rows]}


@bp.post("")
@requires(Perm.APIKEYS_WRITE)
@document_request(ApiKeyIn)
@returns(ApiKeyCreated, 201, creates="apikeys_api.show")
@raises(409)
async def create(org_id: uuid.UUID | str):
    """Create a key for the caller: 201; `key` is in this answer only."""
    data = await parse_body(ApiKeyIn)
    key, raw = await service.create_key(
        db_session(), g.ctx, name=data.name, permissions=data.permissions, expires_at=data.expires_at
    )
    row = await queries.get_key(db_session(), g.ctx.org_id, key.id, user_id=g.ctx.user_id)
    body = ApiKeyCreated(**key_out(row).model_dump(), key=raw).model_dump(mode="json")
    return body, 201, {"Location": url_for("apikeys_api.show", org_id=g.ctx.org_id, key_id=key.id)}


@bp.get("/<uuid:key_id>")
@requires(Perm.APIKEYS_WRITE)
@returns(ApiKeyOut)
async def show(org_id: uuid.UUID | str, key_id: uuid.UUID):
    """One key."""
    return key_out(await queries.get_key(db_session(), g.ctx.org_id, key_id, user_id=_owner_filter())).model_dump(
        mode="json"
    )


@bp.patch("/<uuid:key_id>")
@requires(Perm.APIKEYS_WRITE)
@document_request(ApiKeyPatch)
@returns(ApiKeyOut)
@raises(409)
async def update(org_id: uuid.UUID | str, key_id: uuid.UUID):
    """Rename, enable/disable, or change the expiry of a key."""
    data = await parse_body(ApiKeyPatch)
    await service.update_key(
        db_session(),
        g.ctx,
        key_id,
        version=data.version,
        name=data.name,
        enabled=data.enabled,
        expires_at=data.expires_at if "expires_at" in data.model_fields_set else ...,
    )
    return key_out(await queries.get_key(db_session(), g.ctx.org_id, key_id, user_id=_owner_filter())).model_dump(
        mode="json"
    )


@bp.delete("/<uuid:key_id>")
@requires(Perm.APIKEYS_WRITE)
@returns(None, 204)
async def delete(org_id: uuid.UUID | str, key_id: uuid.UUID):
    """Revoke a key: 204."""
    await service.delete_key(db_session(), g.ctx, key_id)
    return "", 204
