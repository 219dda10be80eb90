"""JSON API of the catalog: waste materials, processing modules (with their maintenance log) and recipes.

The three kinds share one set of routes, registered per kind below: list and create under the
organization, read/patch/delete/restore/reset by id (bearer credentials only: the path names no organization).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import Enum

from quart import Blueprint, g, request, url_for
from quart_schema import document_request

from webapp.catalog import queries
from webapp.catalog.schemas import (
    MaintenanceIn,
    MaintenanceOut,
    MaterialIn,
    MaterialOut,
    MaterialPatch,
    ModuleIn,
    ModuleOut,
    ModulePatch,
    RecipeIn,
    RecipeOut,
    RecipePatch,
)
from webapp.catalog.service import items, modules, recipes
from webapp.catalog.service.materials import MATERIALS
from webapp.catalog.service.modules import MODULES
from webapp.catalog.service.recipes import RECIPES
from webapp.core.forms import parse_body
from webapp.core.listing import lists
from webapp.core.openapi import Items, Page, raises, returns
from webapp.core.pagination import parse_limit
from webapp.core.permissions import Perm, require_bound_credential, requires
from webapp.core.transaction import db_session

org_bp = Blueprint("catalog_api", __name__, url_prefix="/api/v1/organizations/<org:org_id>")
bp = Blueprint("catalog_items_api", __name__, url_prefix="/api/v1")
bp.before_request(require_bound_credential)

# (list segment, item segment, queries kind, service kind, create body, patch body, answer)
KINDS = (
    ("waste-materials", "waste-materials", "materials", MATERIALS, MaterialIn, MaterialPatch, MaterialOut),
    ("modules", "processing-modules", "modules", MODULES, ModuleIn, ModulePatch, ModuleOut),
    ("recipes", "processing-recipes", "recipes", RECIPES, RecipeIn, RecipePatch, RecipeOut),
)


def _plain(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def item_out(row, lines: list | None = None) -> dict:
    """A catalog row -> response JSON (recipes carry their lines)."""
    body = {key: _plain(value) for key, value in row._mapping.items() if key != "sort_value"}
    if lines is not None:
        body["lines"] = [
            {
                "direction": _plain(x.direction),
                "material_id": _plain(x.material_id),
                "material_key": x.material_key,
                "resource": _plain(x.resource),
                "kg": float(x.kg),
                "blend_group": x.blend_group,
            }
            for x in lines
        ]
    return body


async def _out(kind: str, rows: list) -> list[dict]:
    if kind != "recipes":
        return [item_out(r) for r in rows]
    lines = await queries.lines_of(db_session(), [r.id for r in rows])
    return [item_out(r, lines[r.id]) for r in rows]


def _values(data, *, partial: bool) -> dict:
    """What the service reads: an edit's fields as sent (null included), a create's with its defaults."""
    if partial:
        return data.model_dump(exclude_unset=True, exclude={"version"})
    return data.model_dump(exclude_none=True, exclude={"version"})


async def _create(kind, service_kind, values):
    session = db_session()
    if kind == "recipes":
        return await recipes.create_recipe(session, g.ctx, values)
    return await items.create_item(session, g.ctx, service_kind, values)


async def _update(kind, service_kind, item_id, values, version):
    session = db_session()
    if kind == "recipes":
        return await recipes.update_recipe(session, g.ctx, item_id, values, version=version)
    if kind == "modules":
        return await modules.update_module(session, g.ctx, item_id, values, version=version)
    return await items.update_item(session, g.ctx, service_kind, item_id, values, version=version)


def _register(list_segment, item_segment, kind, service_kind, create_body, patch_body, answer) -> None:
    item_endpoint = f"get_{kind}"
    listing = queries.LISTINGS[kind]

    @requires(Perm.CATALOG_READ)
    @lists(listing)
    @returns(Page[answer])
    async def list_view(org_id: uuid.UUID | str):
        args = request.args
        page = await queries.list_items(
            db_session(),
            g.ctx.org_id,
            kind,
            filters={f: args.get(f) for f in listing.filters},
            sort=args.get("sort"),
            cursor=args.get("cursor") or None,
            limit=parse_limit(args.get("limit")),
        )
        return {"items": await _out(kind, page.items), "next_cursor": page.next_cursor}

    @requires(Perm.CATALOG_WRITE)
    @returns(answer, 201, creates=f"catalog_items_api.{item_endpoint}")
    @raises(409)
    async def create_view(org_id: uuid.UUID | str):
        data = await parse_body(create_body)
        item = await _create(kind, service_kind, _values(data, partial=False))
        row = await queries.get_item(db_session(), g.ctx.org_id, kind, item.id)
        return (
            (await _out(kind, [row]))[0],
            201,
            {"Location": url_for(f"catalog_items_api.{item_endpoint}", item_id=item.id)},
        )

    @requires(Perm.CATALOG_READ)
    @returns(answer)
    async def get_view(item_id: uuid.UUID):
        row = await queries.get_item(db_session(), g.ctx.org_id, kind, item_id)
        return (await _out(kind, [row]))[0]

    @requires(Perm.CATALOG_WRITE)
    @returns(answer)
    @raises(409)
    async def patch_view(item_id: uuid.UUID):
        data = await parse_body(patch_body)
        await _update(kind, service_kind, item_id, _values(data, partial=True), data.version)
        return await get_view.__wrapped__(item_id)

    @requires(Perm.CATALOG_WRITE)
    @returns(None, 204)
    @raises(409)
    async def delete_view(item_id: uuid.UUID):
        await items.delete_item(db_session(), g.ctx, service_kind, item_id)
        return "", 204

    @requires(Perm.CATALOG_WRITE)
    @returns(answer)
    @raises(409)
    async def restore_view(item_id: uuid.UUID):
        if kind == "recipes":
            await recipes.restore_recipe(db_session(), g.ctx, item_id)
        else:
            await items.restore_item(db_session(), g.ctx, service_kind, item_id)
        return await get_view.__wrapped__(item_id)

    @requires(Perm.CATALOG_WRITE)
    @returns(answer)
    @raises(409)
    async def reset_view(item_id: uuid.UUID):
        if kind == "recipes":
            await recipes.reset_recipe(db_session(), g.ctx, item_id)
        else:
            await items.reset_item(db_session(), g.ctx, service_kind, item_id)
        return await get_view.__wrapped__(item_id)

    what = service_kind.what
    list_view.__doc__ = f"List {what}s: `q` (name or key), filters {', '.join(listing.filters)}, `sort`, cursor paging."
    create_view.__doc__ = f"Create a {what}: 201 + Location."
    get_view.__doc__ = f"One {what}."
    patch_view.__doc__ = f"Change a {what}; 409 with `details.current` when `version` is stale."
    delete_view.__doc__ = f"Soft-delete a {what}: 204 (409 while recipes use it)."
    restore_view.__doc__ = f"Undo deleting a {what}."
    reset_view.__doc__ = f"Put back a {what}'s reference-catalog values and provenance."
    org_bp.add_url_rule(f"/{list_segment}", f"list_{kind}", list_view, methods=["GET"])
    org_bp.add_url_rule(
        f"/{list_segment}", f"create_{kind}", document_request(create_body)(create_view), methods=["POST"]
    )
    bp.add_url_rule(f"/{item_segment}/<uuid:item_id>", item_endpoint, get_view, methods=["GET"])
    bp.add_url_rule(
        f"/{item_segment}/<uuid:item_id>", f"patch_{kind}", document_request(patch_body)(patch_view), methods=["PATCH"]
    )
    bp.add_url_rule(f"/{item_segment}/<uuid:item_id>", f"delete_{kind}", delete_view, methods=["DELETE"])
    bp.add_url_rule(f"/{item_segment}/<uuid:item_id>/restore", f"restore_{kind}", restore_view, methods=["POST"])
    bp.add_url_rule(f"/{item_segment}/<uuid:item_id>/reset", f"reset_{kind}", reset_view, methods=["POST"])


for _kind in KINDS:
    _register(*_kind)


@bp.get("/processing-modules/<uuid:item_id>/maintenance")
@requires(Perm.CATALOG_READ)
@returns(Items[MaintenanceOut])
async def module_log(item_id: uuid.UUID):
    """A module's maintenance log, newest first."""
    session = db_session()
    await queries.get_item(session, g.ctx.org_id, "modules", item_id)
    return {
        "items": [
            {key: _plain(v) for key, v in row._mapping.items()}
            for row in await queries.maintenance_log(session, g.ctx.org_id, item_id)
        ]
    }


@bp.post("/processing-modules/<uuid:item_id>/maintenance")
@requires(Perm.MODULES_OPERATE)
@document_request(MaintenanceIn)
@returns(MaintenanceOut, 201)
@raises(409)
async def log_module_maintenance(item_id: uuid.UUID):
    """Add a log entry (and optionally move the module to `status`): 201."""
    data = await parse_body(MaintenanceIn)
    entry = await modules.log_maintenance(
        db_session(), g.ctx, item_id, data.model_dump(exclude={"status"}), status=data.status
    )
    return MaintenanceOut(
        id=entry.id,
        kind=entry.kind,
        status_from=entry.status_from,
        status_to=entry.status_to,
        downtime_h=entry.downtime_h,
        note=entry.note,
        performed_at=entry.performed_at,
        recorded_by_name=g.ctx.user_name,
    ).model_dump(mode="json"), 201
