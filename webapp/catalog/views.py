"""Catalog pages for waste materials, processing modules and recipes: one set of routes for the three kinds.

Lists search as you type, filter, sort and load more; rows edit inline and delete with Undo; forms open in a
modal (or as a page without JavaScript); a stale edit answers 409 with the saved values beside the typed ones.
Module maintenance and CSV import live in `operations.py`.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from quart import Blueprint, flash, g, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from webapp.catalog import queries
from webapp.catalog.enums import LineDirection, Resource
from webapp.catalog.forms import MaintenanceForm, form_class, option_label
from webapp.catalog.pages import PAGES, CatalogPage, Filter
from webapp.catalog.service import items, modules, recipes
from webapp.collaboration.file_views import files_context
from webapp.collaboration.views import thread_context
from webapp.core.csvio import collect_pages, csv_response
from webapp.core.errors import BadRequest, Conflict, ValidationError
from webapp.core.feedback import flash_undo
from webapp.core.forms import show_errors
from webapp.core.htmx import is_htmx, render, toast
from webapp.core.listing import list_args, lists
from webapp.core.pagination import parse_limit
from webapp.core.permissions import Perm, requires
from webapp.core.transaction import db_session

bp = Blueprint("catalog", __name__, url_prefix="/o/<org_slug>/catalog")
KINDS = "<any(materials, modules, recipes):kind>"
BLANK_LINES = 2  # empty line rows a recipe form offers beyond the saved ones


@bp.app_template_filter("label")
def label(value) -> str:
    """An enum value as people read it, in templates: `brine_processor` -> `Brine processor`."""
    return option_label(getattr(value, "value", value))


def page_of(kind: str) -> CatalogPage:
    """The page description of a kind."""
    return PAGES[kind]


def _is_row_request(item_id: uuid.UUID) -> bool:
    """Whether htmx is swapping this item's list row (inline edit, delete, undo)."""
    return is_htmx() and request.headers.get("HX-Target") == f"item-{item_id}"


def _list_args(spec: CatalogPage) -> dict:
    names = [f.name for f in spec.filters] + (["module_id"] if spec.kind == "recipes" else [])
    return list_args("sort", "tag", *names)


async def _list_context(spec: CatalogPage) -> dict:
    """What the list templates need: the rows, the filters as sent, the sort, and names for id columns."""
    session, filters = db_session(), _list_args(spec)
    page = await queries.list_items(
        session,
        g.ctx.org_id,
        spec.kind,
        filters={k: v for k, v in filters.items() if k != "sort"},
        sort=filters["sort"] or None,
        cursor=request.args.get("cursor") or None,
        limit=parse_limit(request.args.get("limit")),
    )
    module_names = await queries.name_map(session, g.ctx.org_id, "modules") if spec.kind == "recipes" else {}
    selects = spec.filters + (
        (Filter("module_id", "Any module", tuple((str(k), v) for k, v in module_names.items())),)
        if spec.kind == "recipes"
        else ()
    )
    return {
        "spec": spec,
        "page": page,
        "filters": filters,
        "selects": selects,
        "module_names": module_names,
        "filtered": any(v for k, v in filters.items() if k != "sort"),
        "sort": queries.LISTINGS[spec.kind].parse_sort(filters["sort"] or None),
    }


@bp.get("")
@requires(Perm.CATALOG_READ)
@lists(queries.LISTINGS["materials"])
async def home():
    """The catalog starts at its waste materials."""
    return await index.__wrapped__("materials")


@bp.get(f"/{KINDS}")
@requires(Perm.CATALOG_READ)
@lists(queries.LISTINGS, by="kind")
async def index(kind: str):
    """One kind's list; htmx asks for the results (search, sort) or the next rows (load more) only."""
    spec = page_of(kind)
    context = await _list_context(spec)
    if is_htmx() and request.args.get("cursor"):
        return await render("catalog/_rows.html", **context)
    listed = {k: v for k, v in context["filters"].items() if k != "sort"}
    context["total"] = await queries.LISTINGS[spec.kind].total(
        db_session(), {"org_id": g.ctx.org_id}, listed, context["page"]
    )
    if is_htmx() and request.headers.get("HX-Target") == "catalog-results":
        return await render("catalog/_results.html", **context)
    deleted = await queries.list_deleted(db_session(), g.ctx.org_id, kind)
    return await render("catalog/index.html", **context, deleted=deleted)


@bp.get(f"/{KINDS}/export.csv")
@requires(Perm.CATALOG_READ)
@lists(queries.LISTINGS, by="kind")
async def export_csv(kind: str):
    """The filtered list as CSV; materials and modules export exactly the columns their import reads."""
    spec, session = page_of(kind), db_session()
    filters = {k: v for k, v in _list_args(spec).items() if k != "sort"}

    async def fetch(cursor):
        return await queries.list_items(
            session,
            g.ctx.org_id,
            kind,
            filters=filters,
            sort=request.args.get("sort") or None,
            cursor=cursor,
            limit=1000,
        )

    rows = await collect_pages(fetch)
    if kind == "recipes":
        names = await queries.name_map(session, g.ctx.org_id, "modules")
        lines = await queries.lines_of(session, [r.id for r in rows])
        out = [
            [
                r.key,
                r.name,
                r.description,
                names.get(r.module_id, ""),
                r.duration_h,
                r.energy_kwh,
                r.crew_h,
                r.priority,
                _lines_text(lines[r.id], "input"),
                _lines_text(lines[r.id], "output"),
            ]
            for r in rows
        ]
    else:
        out = [[_csv_value(getattr(r, c)) for c in spec.csv_columns] for r in rows]
    return csv_response(f"{kind}-{g.ctx.org_slug}.csv", list(spec.csv_columns), out)


def _csv_value(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _lines_text(lines: list, direction: str) -> str:
    return "; ".join(
        f"{x.material_key or x.resource.value} {x.kg.normalize():f}" for x in lines if x.direction.value == direction
    )


async def _form_context(spec: CatalogPage, form, item=None, **extra) -> dict:
    """Form templates' context; recipes also get their line editor's choices and rows."""
    context = {"spec": spec, "form": form, "item": item} | extra
    if spec.kind == "recipes":
        session = db_session()
        materials = await queries.name_map(session, g.ctx.org_id, "materials")
        context["module_names"] = await queries.name_map(session, g.ctx.org_id, "modules")
        context["line_choices"] = _line_choices(materials)
        context.setdefault("module_choice", str(item.module_id) if item is not None else "")
        if "lines" not in context:
            saved = (await queries.lines_of(session, [item.id]))[item.id] if item is not None else []
            context["lines"] = [
                {
                    "direction": x.direction.value,
                    "item": _line_item(x.material_id, x.resource),
                    "kg": f"{x.kg.normalize():f}",
                    "blend": x.blend_group,
                }
                for x in saved
            ]
        context["lines"] = (
            context["lines"]
            + [{"direction": d, "item": "", "kg": "", "blend": False} for d in ("input", "output")][:BLANK_LINES]
        )
        if "blend_share" not in context:
            share = item.blend_min_share if item is not None else None
            context["blend_share"] = "" if share is None else f"{share.normalize():f}"
    return context


def _line_item(material_id, resource) -> str:
    return f"m:{material_id}" if material_id else f"r:{getattr(resource, 'value', resource)}"


def _line_choices(materials: dict) -> list[tuple[str, list[tuple[str, str]]]]:
    """Option groups for a line's select: this organization's waste materials, then resources."""
    return [
        ("Waste materials", [(f"m:{i}", name) for i, name in materials.items()]),
        ("Resources and products", [(f"r:{r.value}", r.label) for r in Resource]),
    ]


def _posted_lines(form: MultiDict) -> tuple[list[dict], list[dict]]:
    """(lines for the service, lines as typed for re-rendering) from the line editor's parallel inputs."""
    typed, lines = [], []
    blends = form.getlist("line_blend")
    rows = zip(form.getlist("line_direction"), form.getlist("line_item"), form.getlist("line_kg"), strict=False)
    for n, (direction, item, kg) in enumerate(rows):
        if not item and not kg.strip():
            continue  # an empty spare row
        grouped = n < len(blends) and blends[n] == "1"
        typed.append({"direction": direction, "item": item, "kg": kg, "blend": grouped})
        line = {"direction": direction or None, "kg": kg, "blend_group": grouped}
        if item.startswith("m:"):
            line["material_id"] = item[2:]
        elif item.startswith("r:"):
            line["resource"] = item[2:]
        lines.append(line)
    return lines, typed


@bp.get(f"/{KINDS}/new")
@requires(Perm.CATALOG_WRITE)
async def new(kind: str):
    """The create form: a modal's body for htmx, a page otherwise."""
    spec = page_of(kind)
    form = form_class(spec.service)()
    return await render("catalog/form.html", "catalog/_form.html", **await _form_context(spec, form))


@bp.post(f"/{KINDS}")
@requires(Perm.CATALOG_WRITE)
async def create(kind: str):
    """Create; errors come back on the form, success opens the new item."""
    spec, posted = page_of(kind), MultiDict(await request.form)
    form = form_class(spec.service).from_request(posted)
    values = form.values() | {"provenance": form.provenance({})}
    extra = {}
    if kind == "recipes":
        values["lines"], extra["lines"] = _posted_lines(posted)
        values["module_id"] = extra["module_choice"] = posted.get("module_id", "")
        values["blend_min_share"] = extra["blend_share"] = posted.get("blend_min_share", "").strip()
    try:
        if kind == "recipes":
            item = await recipes.create_recipe(db_session(), g.ctx, values)
        else:
            item = await items.create_item(db_session(), g.ctx, spec.service, values)
    except (ValidationError, Conflict) as exc:
        show_errors(form, exc)
        return await render(
            "catalog/form.html",
            "catalog/_form.html",
            status=exc.status_code,
            **await _form_context(spec, form, errors=exc.details.get("fields", {}), **extra),
        )
    await flash(f"{item.name} added to the catalog.", "success")
    return _go(url_for("catalog.show", kind=kind, item_id=item.id))


def _differs(saved, typed) -> bool:
    """Whether a saved value and a typed one differ (`0.5000` and `0.5` do not)."""
    if isinstance(saved, bool) or isinstance(typed, bool):
        return bool(saved) != bool(typed)
    if isinstance(saved, Decimal) and typed not in (None, ""):
        try:
            return saved != Decimal(str(typed))
        except ArithmeticError:
            return True
    return _csv_value(saved) not in (typed, getattr(typed, "value", typed)) and not (saved is None and typed == "")


def _go(target: str):
    """Redirect, the htmx way when htmx asked (a modal form navigates the whole page)."""
    if is_htmx():
        return "", 204, {"HX-Redirect": target}
    return redirect(target, 303)


@bp.get(f"/{KINDS}/<uuid:item_id>")
@requires(Perm.CATALOG_READ)
async def show(kind: str, item_id: uuid.UUID):
    """An item with every number's provenance, what differs from the reference, and what uses it."""
    spec, session = page_of(kind), db_session()
    item = await queries.get_item(session, g.ctx.org_id, kind, item_id)
    context = {
        "spec": spec,
        "item": item,
        "edited": items.edited_numbers(spec.service, item),
        "used_by": await spec.service.in_use(session, item.id) if spec.service.in_use else [],
    }
    if kind == "modules":
        context |= {
            "log": await queries.maintenance_log(session, g.ctx.org_id, item.id),
            "maintenance_form": MaintenanceForm(),
        }
    if kind == "recipes":
        context |= {
            "lines": (await queries.lines_of(session, [item.id]))[item.id],
            "module_names": await queries.name_map(session, g.ctx.org_id, "modules"),
        }
    return await render(
        "catalog/show.html",
        **context,
        **await thread_context(spec.entity_type, item.id),
        **await files_context(spec.entity_type, item.id),
    )


@bp.get(f"/{KINDS}/<uuid:item_id>/edit")
@requires(Perm.CATALOG_WRITE)
async def edit(kind: str, item_id: uuid.UUID):
    """The inline edit row when a list row asks, the full form (modal or page) otherwise."""
    spec = page_of(kind)
    item = await queries.get_item(db_session(), g.ctx.org_id, kind, item_id)
    form = form_class(spec.service).from_item(item)
    if _is_row_request(item_id):
        return await render("catalog/_edit_row.html", spec=spec, item=item, form=form)
    return await render("catalog/form.html", "catalog/_form.html", **await _form_context(spec, form, item))


@bp.get(f"/{KINDS}/<uuid:item_id>/row")
@requires(Perm.CATALOG_READ)
async def row(kind: str, item_id: uuid.UUID):
    """One list row (Cancel on the inline edit)."""
    return await _row(page_of(kind), item_id)


async def _row(spec: CatalogPage, item_id: uuid.UUID, *, status: int = 200, error: str | None = None):
    session = db_session()
    item = await queries.get_item(session, g.ctx.org_id, spec.kind, item_id)
    names = await queries.name_map(session, g.ctx.org_id, "modules") if spec.kind == "recipes" else {}
    return await render("catalog/_row.html", spec=spec, item=item, module_names=names, error=error, status=status)


async def _save(spec: CatalogPage, item_id: uuid.UUID, values: dict, version: int | None):
    session = db_session()
    if spec.kind == "recipes":
        return await recipes.update_recipe(session, g.ctx, item_id, values, version=version)
    if spec.kind == "modules":
        return await modules.update_module(session, g.ctx, item_id, values, version=version)
    return await items.update_item(session, g.ctx, spec.service, item_id, values, version=version)


@bp.post(f"/{KINDS}/<uuid:item_id>")
@requires(Perm.CATALOG_WRITE)
async def update(kind: str, item_id: uuid.UUID):
    """Save the fields the form sent (an inline row sends a few); stale versions get a conflict fragment."""
    spec, posted = page_of(kind), MultiDict(await request.form)
    form = form_class(spec.service).from_request(posted)
    inline = _is_row_request(item_id)
    current = await queries.get_item(db_session(), g.ctx.org_id, kind, item_id)
    values = {k: v for k, v in form.values().items() if k in posted}
    values["provenance"] = form.provenance(current.provenance)
    extra = {}
    if kind == "recipes" and "line_item" in posted:
        values["lines"], extra["lines"] = _posted_lines(posted)
    if kind == "recipes" and "module_id" in posted:
        values["module_id"] = extra["module_choice"] = posted["module_id"]
    if kind == "recipes" and "blend_min_share" in posted:
        values["blend_min_share"] = extra["blend_share"] = posted["blend_min_share"].strip()
    version = int(form.version.data) if (form.version.data or "").isdigit() else None
    try:
        await _save(spec, item_id, values, version)
    except (ValidationError, Conflict) as exc:
        show_errors(form, exc)
        conflict = exc.details.get("current")
        if conflict:
            form.version.data = conflict["version"]
        problem = {
            "conflict": conflict,
            "error": exc.message,
            "errors": exc.details.get("fields", {}),
            "differs": {f for f in values if conflict and f in conflict and _differs(conflict[f], values[f])},
        }
        if inline:
            return await render(
                "catalog/_edit_row.html", spec=spec, item=current, form=form, **problem, status=exc.status_code
            )
        return await render(
            "catalog/form.html",
            "catalog/_form.html",
            status=exc.status_code,
            **await _form_context(spec, form, current, **problem, **extra),
        )
    if inline:
        return await _row(spec, item_id)
    await flash("Saved.", "success")
    return _go(url_for("catalog.show", kind=kind, item_id=item_id))


@bp.post(f"/{KINDS}/<uuid:item_id>/delete")
@requires(Perm.CATALOG_WRITE)
async def delete(kind: str, item_id: uuid.UUID):
    """Soft delete with Undo; refused (409, naming the recipes) while recipes use the item."""
    spec = page_of(kind)
    try:
        item = await items.delete_item(db_session(), g.ctx, spec.service, item_id)
    except Conflict as exc:
        if _is_row_request(item_id):
            return await _row(spec, item_id, status=409, error=exc.message)
        await flash(exc.message, "error")
        return redirect(url_for("catalog.show", kind=kind, item_id=item_id), 303)
    if _is_row_request(item_id):
        return toast(await render("catalog/_deleted_row.html", spec=spec, item=item), f"{item.name} deleted.")
    await flash_undo(f"{item.name} deleted.", url_for("catalog.restore", kind=kind, item_id=item.id))
    return redirect(url_for("catalog.index", kind=kind), 303)


@bp.post(f"/{KINDS}/<uuid:item_id>/restore")
@requires(Perm.CATALOG_WRITE)
async def restore(kind: str, item_id: uuid.UUID):
    """Undo a delete (the row comes back in place for htmx)."""
    spec = page_of(kind)
    try:
        if kind == "recipes":
            await recipes.restore_recipe(db_session(), g.ctx, item_id)
        else:
            await items.restore_item(db_session(), g.ctx, spec.service, item_id)
    except Conflict as exc:
        if is_htmx():
            return await render("catalog/_error_row.html", spec=spec, item_id=item_id, error=exc.message, status=409)
        await flash(exc.message, "error")
        return redirect(url_for("catalog.index", kind=kind), 303)
    if _is_row_request(item_id):
        return await _row(spec, item_id)
    return redirect(url_for("catalog.show", kind=kind, item_id=item_id), 303)


@bp.post(f"/{KINDS}/<uuid:item_id>/reset")
@requires(Perm.CATALOG_WRITE)
async def reset(kind: str, item_id: uuid.UUID):
    """Put back the reference catalog's values and provenance."""
    try:
        if kind == "recipes":
            await recipes.reset_recipe(db_session(), g.ctx, item_id)
        else:
            await items.reset_item(db_session(), g.ctx, page_of(kind).service, item_id)
    except Conflict as exc:
        await flash(exc.message, "error")
        return redirect(url_for("catalog.show", kind=kind, item_id=item_id), 303)
    await flash("Back to the reference values.", "success")
    return redirect(url_for("catalog.show", kind=kind, item_id=item_id), 303)


@bp.get("/recipes/line")
@requires(Perm.CATALOG_WRITE)
async def blank_line():
    """One more empty row for the recipe line editor."""
    direction = request.args.get("direction", "input")
    if direction not in {d.value for d in LineDirection}:
        raise BadRequest("direction must be input or output.")
    materials = await queries.name_map(db_session(), g.ctx.org_id, "materials")
    return await render(
        "catalog/_line.html",
        line={"direction": direction, "item": "", "kg": "", "blend": False},
        line_choices=_line_choices(materials),
    )
