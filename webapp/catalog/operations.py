"""Catalog routes beyond editing: module maintenance (crew with modules:operate) and CSV import."""

from __future__ import annotations

import uuid

from quart import flash, g, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from webapp.catalog import queries
from webapp.catalog.forms import MaintenanceForm
from webapp.catalog.service import modules
from webapp.catalog.service.imports import import_rows
from webapp.catalog.views import bp, page_of
from webapp.core.csvio import read_csv
from webapp.core.errors import Conflict, ValidationError
from webapp.core.forms import show_errors
from webapp.core.htmx import is_htmx, render
from webapp.core.permissions import Perm, requires
from webapp.core.transaction import db_session

IMPORTABLE = "<any(materials, modules):kind>"


async def _maintenance_section(
    module_id: uuid.UUID, form: MaintenanceForm | None = None, *, status: int = 200, error: str | None = None
):
    session = db_session()
    item = await queries.get_item(session, g.ctx.org_id, "modules", module_id)
    return await render(
        "catalog/_maintenance.html",
        item=item,
        status=status,
        error=error,
        log=await queries.maintenance_log(session, g.ctx.org_id, module_id),
        maintenance_form=form or MaintenanceForm(),
    )


@bp.post("/modules/<uuid:item_id>/maintenance")
@requires(Perm.MODULES_OPERATE)
async def log_maintenance(item_id: uuid.UUID):
    """Add a maintenance log entry, optionally moving the module to another status."""
    form = MaintenanceForm(formdata=MultiDict(await request.form))
    try:
        await modules.log_maintenance(
            db_session(),
            g.ctx,
            item_id,
            {"kind": form.kind.data, "note": form.note.data or "", "downtime_h": form.downtime_h.data or None},
            status=form.status.data or None,
        )
    except (ValidationError, Conflict) as exc:
        show_errors(form, exc)
        if not is_htmx():
            await flash(exc.message, "error")
            return redirect(url_for("catalog.show", kind="modules", item_id=item_id) + "#maintenance", 303)
        return await _maintenance_section(item_id, form, status=exc.status_code, error=exc.message)
    if not is_htmx():
        return redirect(url_for("catalog.show", kind="modules", item_id=item_id) + "#maintenance", 303)
    return await _maintenance_section(item_id)


@bp.get(f"/{IMPORTABLE}/import")
@requires(Perm.CATALOG_WRITE)
async def import_form(kind: str):
    """The upload page, with the columns the file needs."""
    return await render("catalog/import.html", spec=page_of(kind))


@bp.post(f"/{IMPORTABLE}/import")
@requires(Perm.CATALOG_WRITE)
async def import_file(kind: str):
    """Import a CSV: all rows or none; every problem is listed by row and column."""
    spec = page_of(kind)
    upload = (await request.files).get("file")
    required, allowed = spec.import_columns
    try:
        rows = read_csv(upload.read() if upload else b"", required, allowed)
        result = await import_rows(db_session(), g.ctx, spec.service, rows)
    except ValidationError as exc:
        return await render(
            "catalog/import.html",
            spec=spec,
            status=422,
            error=exc.message,
            file_errors=exc.details.get("fields", {}).get("file", []),
            row_errors=exc.details.get("rows", []),
            filename=upload.filename if upload else "",
        )
    parts = [f"{len(result.created)} added", f"{len(result.updated)} updated"]
    if result.unchanged:
        parts.append(f"{result.unchanged} unchanged")
    await flash(f"Imported {spec.title.lower()}: {', '.join(parts)}.", "success")
    return redirect(url_for("catalog.index", kind=kind), 303)
