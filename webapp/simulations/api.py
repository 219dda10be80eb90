"""JSON API: products (by mission, by id, under the organization) and simulation runs (start, follow, cancel)."""

from __future__ import annotations

import uuid

from quart import Blueprint, g, request, url_for
from quart_schema import document_request

from webapp.core.errors import Forbidden
from webapp.core.forms import parse_body, parse_query
from webapp.core.listing import lists
from webapp.core.live import realtime
from webapp.core.openapi import Items, Page, PageQuery, query, raises, returns
from webapp.core.pagination import parse_limit
from webapp.core.permissions import Perm, require_bound_credential, requires
from webapp.core.transaction import db_session
from webapp.missions.queries import get_mission
from webapp.simulations import queries, service, streams
from webapp.simulations.schemas import (
    LogOut,
    LogQuery,
    ProductIn,
    ProductOut,
    ProductPatch,
    RunIn,
    RunOut,
    RunPatch,
)
from webapp.simulations.service import runs as run_service
from webapp.simulations.tasks import enqueue_run

bp = Blueprint("products_api", __name__, url_prefix="/api/v1")
org_bp = Blueprint("org_products_api", __name__, url_prefix="/api/v1/organizations/<org:org_id>/products")
bp.before_request(require_bound_credential)


def _id(value) -> str | None:
    return None if value is None else str(value)


def product_out(row: queries.ProductRow) -> dict:
    """ProductRow -> response JSON (built directly: lists of thousands are served from here)."""
    return {
        "id": str(row.id),
        "mission_id": str(row.mission_id),
        "product_type": row.product_type.value,
        "quantity_kg": float(row.quantity_kg),
        "produced_at": row.produced_at.isoformat(),
        "recipe_id": _id(row.recipe_id),
        "kind": row.kind.value,
        "simulation_run_id": _id(row.simulation_run_id),
        "notes": row.notes,
        "tags": row.tags,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "version": row.version,
    }


async def _page(mission_id: uuid.UUID | None):
    # a plain dict: a MultiDict's get() raises and catches an exception for each parameter not sent
    args = request.args.to_dict() if request.args else {}
    page = await queries.list_products(
        db_session(),
        g.ctx.org_id,
        mission_id=mission_id or args.get("mission_id"),
        product_type=args.get("product_type"),
        kind=args.get("kind"),
        q=args.get("q"),
        tag=args.get("tag"),
        sort=args.get("sort"),
        cursor=args.get("cursor") or None,
        limit=parse_limit(args.get("limit")),
    )
    return {"items": [product_out(r) for r in page.items], "next_cursor": page.next_cursor}


@org_bp.get("")
@requires(Perm.PRODUCTS_READ)
@lists(queries.PRODUCTS)
@returns(Page[ProductOut])
async def list_products(org_id: uuid.UUID | str):
    """Products of the organization.

    Filters `mission_id`, `product_type`, `kind` (recorded or planned), `q` (notes); `sort=`
    produced_at, quantity_kg, product_type or created_at with :asc/:desc; `limit` and `cursor`."""
    return await _page(None)


@bp.get("/missions/<uuid:mission_id>/products")
@requires(Perm.PRODUCTS_READ)
@lists(queries.PRODUCTS)
@returns(Page[ProductOut])
async def mission_products(mission_id: uuid.UUID):
    """Products of one mission (same filters and paging as the organization's list)."""
    await get_mission(db_session(), g.ctx.org_id, mission_id)
    return await _page(mission_id)


async def _create():
    data = await parse_body(ProductIn)
    session = db_session()
    if not g.ctx.can(Perm.PRODUCTS_WRITE, mission_id=data.mission_id):
        raise Forbidden(details={"missing": [Perm.PRODUCTS_WRITE.value]})
    product = await service.record_product(session, g.ctx, data.model_dump())
    row = await queries.get_product(session, g.ctx.org_id, product.id)
    return product_out(row), 201, {"Location": url_for("products_api.get_product", product_id=product.id)}


@bp.post("/products")
@requires()
@document_request(ProductIn)
@returns(ProductOut, 201, creates="products_api.get_product")
async def create_product():
    """Record a product by hand: 201 + Location (products:write, organization-wide or for its mission)."""
    return await _create()


@org_bp.post("")
@requires()
@document_request(ProductIn)
@returns(ProductOut, 201)
async def create_org_product(org_id: uuid.UUID | str):
    """The same as POST /products, for browser sessions."""
    return await _create()


@bp.get("/products/<uuid:product_id>")
@requires(Perm.PRODUCTS_READ)
@returns(ProductOut)
async def get_product(product_id: uuid.UUID):
    """One product."""
    return product_out(await queries.get_product(db_session(), g.ctx.org_id, product_id))


@bp.patch("/products/<uuid:product_id>")
@requires(Perm.PRODUCTS_WRITE)
@document_request(ProductPatch)
@returns(ProductOut)
@raises(409)
async def update_product(product_id: uuid.UUID):
    """Correct a hand-recorded product; 409 with `details.current` when `version` is stale."""
    data = await parse_body(ProductPatch)
    session = db_session()
    await service.update_product(
        session, g.ctx, product_id, data.model_dump(exclude_unset=True, exclude={"version"}), version=data.version
    )
    return product_out(await queries.get_product(session, g.ctx.org_id, product_id))


@bp.delete("/products/<uuid:product_id>")
@requires(Perm.PRODUCTS_WRITE)
@returns(None, 204)
@raises(409)
async def delete_product(product_id: uuid.UUID):
    """Soft delete: 204."""
    await service.delete_product(db_session(), g.ctx, product_id)
    return "", 204


@bp.post("/products/<uuid:product_id>/restore")
@requires(Perm.PRODUCTS_WRITE)
@returns(ProductOut)
@raises(409)
async def restore_product(product_id: uuid.UUID):
    """Undo a delete."""
    session = db_session()
    await service.restore_product(session, g.ctx, product_id)
    return product_out(await queries.get_product(session, g.ctx.org_id, product_id))


# ---------------------------------------------------------------- simulation runs


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def run_out(row, *, results: dict | None = None, snapshot: dict | None = None) -> dict:
    """A run (list row or full run) as JSON; results and the input snapshot only on the detail route."""
    body = {
        "id": str(row.id),
        "mission_id": str(row.mission_id),
        "name": row.name,
        "run_type": row.run_type.value,
        "status": row.status.value,
        "progress_percent": row.progress_percent,
        "message": row.progress_message,
        "config": row.config,
        "seed": row.seed,
        "engine_version": row.engine_version,
        "summary": row.summary,
        "error": row.error,
        "attempt": row.attempt,
        "rerun_of": _id(row.rerun_of),
        "cancel_requested_at": _iso(row.cancel_requested_at),
        "tags": row.tags,
        "version": row.version,
        "created_at": _iso(row.created_at),
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
    }
    if results is not None or snapshot is not None:
        body |= {"results": results, "input_snapshot": snapshot}
    return body


@bp.get("/missions/<uuid:mission_id>/simulations")
@requires(Perm.SIMULATIONS_READ)
@query(PageQuery)
@returns(Page[RunOut])
async def list_runs(mission_id: uuid.UUID):
    """A mission's simulation runs, newest first (`limit`, `cursor`); results are on GET /simulation-runs/:id."""
    args = parse_query(PageQuery)
    session = db_session()
    await get_mission(session, g.ctx.org_id, mission_id)
    page = await queries.list_runs(session, g.ctx.org_id, mission_id, cursor=args.cursor or None, limit=args.limit)
    return {"items": [run_out(r) for r in page.items], "next_cursor": page.next_cursor}


@bp.post("/missions/<uuid:mission_id>/simulations")
@requires(Perm.SIMULATIONS_RUN, mission_param="mission_id")
@document_request(RunIn)
@returns(RunOut, 201, creates="products_api.get_run")
@raises(409)
async def start_run(mission_id: uuid.UUID):
    """Start a run: 201 + Location, status queued; a worker picks it up (follow /simulations/:id/subscribe)."""
    data = await parse_body(RunIn)
    name, run_type, config = run_service.parse_run_request(data.model_dump(exclude_none=True))
    session = db_session()
    run = await run_service.start_run(session, g.ctx, mission_id, name, run_type, config, enqueue_run, tags=data.tags)
    return run_out(run), 201, {"Location": url_for("products_api.get_run", run_id=run.id)}


@bp.get("/simulation-runs/<uuid:run_id>")
@requires(Perm.SIMULATIONS_READ)
@returns(RunOut)
async def get_run(run_id: uuid.UUID):
    """Status, progress, results (per-day series and KPIs) and the frozen inputs of one run."""
    run = await queries.get_run(db_session(), g.ctx.org_id, run_id)
    return run_out(run, results=run.results, snapshot=run.input_snapshot)


@bp.patch("/simulation-runs/<uuid:run_id>")
@requires(Perm.SIMULATIONS_RUN)
@document_request(RunPatch)
@returns(RunOut)
@raises(422)
async def update_run(run_id: uuid.UUID):
    """Change a run's tags; a stale `version` is a 409 with the saved tags."""
    data = await parse_body(RunPatch)
    run = await run_service.tag_run(db_session(), g.ctx, run_id, data.tags, version=data.version)
    return run_out(run)


@bp.patch("/simulation-runs/<uuid:run_id>/cancel")
@requires(Perm.SIMULATIONS_RUN)
@returns(RunOut)
@raises(409)
async def cancel_run(run_id: uuid.UUID):
    """Cancel a queued or running run (a running one stops within a second); 409 once it has finished."""
    redis, namespace = realtime()
    run = await run_service.cancel_run(db_session(), g.ctx, run_id, redis, namespace)
    return run_out(run)


@bp.post("/simulation-runs/<uuid:run_id>/rerun")
@requires(Perm.SIMULATIONS_RUN)
@returns(RunOut, 201, creates="products_api.get_run")
@raises(409)
async def rerun(run_id: uuid.UUID):
    """Run again with the same frozen inputs, config and seed: 201 + Location of the new run."""
    run = await run_service.rerun(db_session(), g.ctx, run_id, enqueue_run)
    return run_out(run), 201, {"Location": url_for("products_api.get_run", run_id=run.id)}


@bp.delete("/simulation-runs/<uuid:run_id>")
@requires(Perm.SIMULATIONS_RUN)
@returns(None, 204)
@raises(409)
async def delete_run(run_id: uuid.UUID):
    """Delete a finished run and the products it planned (204). A live run is 409: cancel it first."""
    await run_service.delete_run(db_session(), g.ctx, run_id)
    return "", 204


@bp.get("/simulation-runs/<uuid:run_id>/logs")
@requires(Perm.SIMULATIONS_READ)
@query(LogQuery)
@returns(Items[LogOut])
async def run_logs(run_id: uuid.UUID):
    """Log lines in order; `after=<line id>` continues from the last one seen; `limit` as in every list."""
    args = parse_query(LogQuery)
    session = db_session()
    await queries.get_run_state(session, g.ctx.org_id, run_id)
    rows = await queries.run_logs(session, g.ctx.org_id, run_id, after=args.after, limit=args.limit)
    return {
        "items": [
            {
                "id": str(r.id),
                "attempt": r.attempt,
                "level": r.level.value,
                "message": r.message,
                "progress_percent": r.progress_percent,
                "at": r.created_at.isoformat(),
            }
            for r in rows
        ]
    }


@bp.get("/simulations/<uuid:run_id>/subscribe")
@requires(Perm.SIMULATIONS_READ)
@returns("event-stream")
async def subscribe(run_id: uuid.UUID):
    """Server-sent events: `state` (the current state first, then each change), `done` once final."""
    return await streams.stream_run(run_id, streams.json_frames)
