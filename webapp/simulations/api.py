"""JSON API: products (by mission, by id for bearer credentials, and under the organization)."""
from __future__ import annotations

import uuid

from quart import Blueprint, g, request, url_for
from quart_schema import document_request

from webapp.core.errors import BadRequest, Forbidden
from webapp.core.forms import parse_body
from webapp.core.ids import parse_id
from webapp.core.pagination import parse_limit
from webapp.core.permissions import Perm, require_bound_credential, requires
from webapp.core.transaction import db_session
from webapp.missions.queries import get_mission
from webapp.simulations import queries, service
from webapp.simulations.schemas import ProductIn, ProductPatch

bp = Blueprint("products_api", __name__, url_prefix="/api/v1")
org_bp = Blueprint("org_products_api", __name__, url_prefix="/api/v1/organizations/<uuid:org_id>/products")
bp.before_request(require_bound_credential)


def _id(value) -> str | None:
    return None if value is None else str(value)


def product_out(row: queries.ProductRow) -> dict:
    """ProductRow -> response JSON (built directly: lists of thousands are served from here)."""
    return {"id": str(row.id), "mission_id": str(row.mission_id), "product_type": row.product_type.value,
            "quantity_kg": float(row.quantity_kg), "produced_at": row.produced_at.isoformat(),
            "recipe_id": _id(row.recipe_id), "source": row.source.value,
            "simulation_run_id": _id(row.simulation_run_id), "notes": row.notes,
            "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat(),
            "version": row.version}


async def _page(mission_id: uuid.UUID | None):
    args = request.args
    if mission_id is None and args.get("mission_id"):
        mission_id = parse_id(args["mission_id"])
        if mission_id is None:
            raise BadRequest("mission_id must be a mission's id.", {"mission_id": args["mission_id"]})
    page = await queries.list_products(
        db_session(), g.ctx.org_id, mission_id=mission_id, product_type=args.get("product_type"),
        source=args.get("source"), q=args.get("q"), sort=args.get("sort"), cursor=args.get("cursor") or None,
        limit=parse_limit(args.get("limit")))
    return {"items": [product_out(r) for r in page.items], "next_cursor": page.next_cursor}


@org_bp.get("")
@requires(Perm.PRODUCTS_READ)
async def list_products(org_id: uuid.UUID):
    """Products of the organization: filters `mission_id`, `product_type`, `source`, `q` (notes); `sort=`
    produced_at, quantity_kg, product_type or created_at with :asc/:desc; `limit` and `cursor`."""
    return await _page(None)


@bp.get("/missions/<uuid:mission_id>/products")
@requires(Perm.PRODUCTS_READ)
async def mission_products(mission_id: uuid.UUID):
    """Products of one mission (same filters and paging as the organization's list)."""
    await get_mission(db_session(), g.ctx.org_id, mission_id)
    return await _page(mission_id)


async def _create():
    data = await parse_body(ProductIn)
    session = db_session()
    if not g.ctx.can(Perm.PRODUCTS_WRITE, mission_id=parse_id(data.mission_id)):
        raise Forbidden(details={"missing": [Perm.PRODUCTS_WRITE.value]})
    product = await service.record_product(session, g.ctx, data.model_dump())
    row = await queries.get_product(session, g.ctx.org_id, product.id)
    return product_out(row), 201, {"Location": url_for("products_api.get_product", product_id=product.id)}


@bp.post("/products")
@requires()
@document_request(ProductIn)
async def create_product():
    """Record a product by hand: 201 + Location (products:write, organization-wide or for its mission)."""
    return await _create()


@org_bp.post("")
@requires()
@document_request(ProductIn)
async def create_org_product(org_id: uuid.UUID):
    """The same as POST /products, for browser sessions."""
    return await _create()


@bp.get("/products/<uuid:product_id>")
@requires(Perm.PRODUCTS_READ)
async def get_product(product_id: uuid.UUID):
    """One product."""
    return product_out(await queries.get_product(db_session(), g.ctx.org_id, product_id))


@bp.patch("/products/<uuid:product_id>")
@requires(Perm.PRODUCTS_WRITE)
@document_request(ProductPatch)
async def update_product(product_id: uuid.UUID):
    """Correct a hand-recorded product; 409 with `details.current` when `version` is stale."""
    data = await parse_body(ProductPatch)
    session = db_session()
    await service.update_product(session, g.ctx, product_id, data.model_dump(exclude_unset=True, exclude={"version"}),
                                 version=data.version)
    return product_out(await queries.get_product(session, g.ctx.org_id, product_id))


@bp.delete("/products/<uuid:product_id>")
@requires(Perm.PRODUCTS_WRITE)
async def delete_product(product_id: uuid.UUID):
    """Soft delete: 204."""
    await service.delete_product(db_session(), g.ctx, product_id)
    return "", 204


@bp.post("/products/<uuid:product_id>/restore")
@requires(Perm.PRODUCTS_WRITE)
async def restore_product(product_id: uuid.UUID):
    """Undo a delete."""
    session = db_session()
    await service.restore_product(session, g.ctx, product_id)
    return product_out(await queries.get_product(session, g.ctx.org_id, product_id))
