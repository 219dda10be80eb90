"""Product pages: the list (filters, notes search, sorts, load more, CSV), record by hand in a modal, detail,
inline correction with a conflict row, delete with Undo."""

from __future__ import annotations

import uuid

from quart import Blueprint, flash, g, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from webapp.catalog.enums import PRODUCT_TYPES
from webapp.catalog.queries import name_map
from webapp.collaboration.file_views import files_context
from webapp.collaboration.views import thread_context
from webapp.core.conflicts import differences, form_labels
from webapp.core.csvio import collect_pages, csv_response
from webapp.core.errors import Conflict, ValidationError
from webapp.core.feedback import flash_undo
from webapp.core.forms import choices, show_errors
from webapp.core.htmx import is_htmx, render, toast
from webapp.core.listing import list_args, lists
from webapp.core.pagination import parse_limit
from webapp.core.permissions import Perm, requires
from webapp.core.templating import num
from webapp.core.transaction import db_session
from webapp.missions.queries import mission_names
from webapp.simulations import queries, service
from webapp.simulations.enums import ProductKind
from webapp.simulations.forms import ProductForm

bp = Blueprint("products", __name__, url_prefix="/o/<org_slug>/products")
CSV_COLUMNS = ["id", "mission", "product_type", "quantity_kg", "produced_at", "recipe", "kind", "notes"]


def _list_args() -> dict:
    """The list's filters as sent; the page shows records unless asked for plans (`kind=planned`) or both (`kind=`)."""
    return list_args("mission_id", "product_type", "tag", "sort", kind=ProductKind.RECORDED.value)


async def _page(filters: dict, cursor: str | None, limit: int):
    return await queries.list_products(
        db_session(),
        g.ctx.org_id,
        mission_id=filters["mission_id"],
        product_type=filters["product_type"],
        kind=filters["kind"],
        q=filters["q"],
        sort=filters["sort"] or None,
        cursor=cursor,
        limit=limit,
    )


@bp.get("")
@requires(Perm.PRODUCTS_READ)
@lists(queries.PRODUCTS)
async def index():
    """Products of every live mission; htmx asks for the results or the next rows only."""
    filters = _list_args()
    page = await _page(filters, request.args.get("cursor") or None, parse_limit(request.args.get("limit")))
    context = {
        "page": page,
        "filters": filters,
        "sort": queries.PRODUCTS.parse_sort(filters["sort"] or None),
        "missions": await mission_names(db_session(), g.ctx.org_id),
        "types": PRODUCT_TYPES,
        "kinds": list(ProductKind),
        "filtered": any(v for k, v in filters.items() if k not in ("sort", "kind")) or filters["kind"] != "recorded",
    }
    if is_htmx() and request.args.get("cursor"):
        return await render("products/_rows.html", **context)
    listed = {k: v for k, v in filters.items() if k != "sort"}
    context["total"] = await queries.PRODUCTS.total(db_session(), {"org_id": g.ctx.org_id}, listed, page)
    if is_htmx() and request.headers.get("HX-Target") == "product-results":
        return await render("products/_results.html", **context)
    return await render("products/index.html", **context)


@bp.get("/export.csv")
@requires(Perm.PRODUCTS_READ)
@lists(queries.PRODUCTS)
async def export_csv():
    """The filtered list as CSV."""
    filters = _list_args()
    products = await collect_pages(lambda cursor: _page(filters, cursor, 1000))
    rows = [
        [
            p.id,
            p.mission_name,
            p.product_type,
            p.quantity_kg,
            p.produced_at.isoformat(),
            p.recipe_name or "",
            p.kind,
            p.notes,
        ]
        for p in products
    ]
    return csv_response(f"products-{g.ctx.org_slug}.csv", CSV_COLUMNS, rows)


async def _form(data: dict | None = None, formdata: MultiDict | None = None) -> ProductForm:
    session = db_session()
    form = ProductForm(formdata=formdata, data=data)
    form.mission_id.choices = choices(await mission_names(session, g.ctx.org_id))
    form.recipe_id.choices = choices([("", "None")] + list((await name_map(session, g.ctx.org_id, "recipes")).items()))
    return form


def _row_request(product_id: uuid.UUID) -> bool:
    return is_htmx() and request.headers.get("HX-Target") == f"product-{product_id}"


@bp.get("/new")
@requires(Perm.PRODUCTS_WRITE)
async def new():
    """The record form (a modal's body for htmx); `?mission_id=` preselects the mission."""
    form = await _form({"mission_id": request.args.get("mission_id", ""), "product_type": "brick"})
    return await render("products/form.html", "products/_form.html", form=form, product=None)


@bp.post("")
@requires(Perm.PRODUCTS_WRITE)
async def create():
    """Record a product; errors come back on the form."""
    posted = MultiDict(await request.form)
    form = await _form(formdata=posted)
    try:
        product = await service.record_product(db_session(), g.ctx, form.values(posted))
    except (ValidationError, Conflict) as exc:
        show_errors(form, exc)
        return await render(
            "products/form.html", "products/_form.html", form=form, product=None, status=exc.status_code
        )
    await flash("Product recorded.", "success")
    target = url_for("products.show", product_id=product.id)
    return ("", 204, {"HX-Redirect": target}) if is_htmx() else redirect(target, 303)


@bp.get("/<uuid:product_id>")
@requires(Perm.PRODUCTS_READ)
async def show(product_id: uuid.UUID):
    """One product record."""
    product = await queries.get_product(db_session(), g.ctx.org_id, product_id)
    return await render(
        "products/show.html",
        product=product,
        **await thread_context("products", product.id),
        **await files_context("products", product.id),
    )


def _data(product) -> dict:
    return {
        "mission_id": str(product.mission_id),
        "product_type": product.product_type.value,
        "quantity_kg": f"{product.quantity_kg.normalize():f}",
        "produced_at": product.produced_at.date().isoformat(),
        "recipe_id": str(product.recipe_id or ""),
        "notes": product.notes,
        "tags": ", ".join(product.tags),
        "version": product.version,
    }


def _differences(form: ProductForm, saved, typed: dict) -> list:
    """What the stale save changed differently from the saved record, missions and recipes by name."""
    names = {c.value: c.label for field in (form.mission_id, form.recipe_id) for c in field.choices}
    saved_values = {f: getattr(saved, f) for f in service.FIELDS}
    for field in ("mission_id", "recipe_id"):
        saved_values[field] = names.get(str(saved_values[field] or ""), "—")
        if field in typed:
            typed = typed | {field: names.get(str(typed[field] or ""), "—")}
    return differences(saved_values, typed, form_labels(form, service.FIELDS))


@bp.get("/<uuid:product_id>/edit")
@requires(Perm.PRODUCTS_WRITE)
async def edit(product_id: uuid.UUID):
    """The inline edit row for a list row, the full form otherwise."""
    product = await queries.get_product(db_session(), g.ctx.org_id, product_id)
    form = await _form(_data(product))
    if _row_request(product_id):
        return await render("products/_edit_row.html", product=product, form=form)
    return await render("products/form.html", "products/_form.html", form=form, product=product)


@bp.get("/<uuid:product_id>/row")
@requires(Perm.PRODUCTS_READ)
async def row(product_id: uuid.UUID):
    """One list row (Cancel on the inline edit)."""
    product = await queries.get_product(db_session(), g.ctx.org_id, product_id)
    return await render("products/_row.html", product=product)


@bp.post("/<uuid:product_id>")
@requires(Perm.PRODUCTS_WRITE)
async def update(product_id: uuid.UUID):
    """Correct a record; a stale form shows the saved values beside the typed ones (409)."""
    session, posted = db_session(), MultiDict(await request.form)
    product = await queries.get_product(session, g.ctx.org_id, product_id)
    form = await _form(formdata=posted)
    values = form.values(posted)
    if values.get("produced_at") == product.produced_at.date().isoformat():
        values.pop("produced_at")  # the form shows the day only; keep the recorded time of day
    version = int(form.version.data) if (form.version.data or "").isdigit() else None
    try:
        await service.update_product(session, g.ctx, product_id, values, version=version)
    except (ValidationError, Conflict) as exc:
        show_errors(form, exc)
        stale = "current" in exc.details
        if stale:
            form.version.data = product.version
        context = {
            "product": product,
            "form": form,
            "error": exc.message,
            "conflict": _differences(form, product, values) if stale else None,
        }
        if _row_request(product_id):
            return await render("products/_edit_row.html", **context, status=exc.status_code)
        return await render("products/form.html", "products/_form.html", **context, status=exc.status_code)
    if _row_request(product_id):
        return toast(await row.__wrapped__(product_id), "Record saved.")
    await flash("Record saved.", "success")
    target = url_for("products.show", product_id=product_id)
    return ("", 204, {"HX-Redirect": target}) if is_htmx() else redirect(target, 303)


@bp.post("/<uuid:product_id>/delete")
@requires(Perm.PRODUCTS_WRITE)
async def delete(product_id: uuid.UUID):
    """Soft delete; the row turns into an Undo row."""
    product = await service.delete_product(db_session(), g.ctx, product_id)
    if _row_request(product_id):
        return toast(await render("products/_deleted_row.html", product=product), "Record deleted.")
    await flash_undo(
        f"{product.product_type.label} record ({num(product.quantity_kg)} kg) deleted.",
        url_for("products.restore", product_id=product.id),
    )
    return redirect(url_for("products.index", mission_id=product.mission_id), 303)


@bp.post("/<uuid:product_id>/restore")
@requires(Perm.PRODUCTS_WRITE)
async def restore(product_id: uuid.UUID):
    """Undo a delete."""
    await service.restore_product(db_session(), g.ctx, product_id)
    if _row_request(product_id):
        return toast(await row.__wrapped__(product_id), "Record restored.")
    await flash("Record restored.", "success")
    return redirect(url_for("products.show", product_id=product_id), 303)
