"""Mission pages: the list (search-as-you-type, filters, sortable columns, load more, CSV), the dashboard,
create/edit with conflict fragments, delete with undo; crew routes are in crew_views."""

from __future__ import annotations

import uuid

from quart import Blueprint, flash, g, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from webapp.catalog import queries as catalog_queries
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
from webapp.core.transaction import db_session
from webapp.missions import queries, service
from webapp.missions.enums import Destination, MissionStatus
from webapp.missions.forms import CrewForm, MissionForm

bp = Blueprint("missions", __name__, url_prefix="/o/<org_slug>/missions")
CSV_COLUMNS = [
    "id",
    "name",
    "status",
    "destination",
    "crew_size",
    "launch_date",
    "landing_date",
    "recycle_target_kg_per_day",
    "created_at",
]


def _list_args() -> dict:
    return list_args("status", "destination", "tag", "sort")


@bp.get("")
@requires(Perm.MISSIONS_READ)
@lists(queries.MISSIONS)
async def index():
    """Missions with search, filters and sorting; htmx asks for the rows only (`_mission_rows.html`)."""
    session, filters = db_session(), _list_args()
    page = await queries.list_missions(
        session,
        g.ctx.org_id,
        cursor=request.args.get("cursor") or None,
        limit=parse_limit(request.args.get("limit")),
        **filters,
    )
    sort = queries.MISSIONS.parse_sort(filters["sort"])
    context = {
        "page": page,
        "filters": filters,
        "sort": sort,
        "statuses": list(MissionStatus),
        "destinations": list(Destination),
    }
    if is_htmx() and request.args.get("cursor"):
        return await render("missions/_mission_rows.html", **context)  # "load more": the next rows only
    context["total"] = await queries.MISSIONS.total(
        session, {"org_id": g.ctx.org_id}, {k: v for k, v in filters.items() if k != "sort"}, page
    )
    if is_htmx() and request.headers.get("HX-Target") == "mission-results":
        return await render("missions/_mission_results.html", **context)
    deleted = await queries.list_deleted_missions(session, g.ctx.org_id, limit=5)
    return await render("missions/index.html", **context, deleted=deleted)


@bp.get("/export.csv")
@requires(Perm.MISSIONS_READ)
@lists(queries.MISSIONS)
async def export_csv():
    """The filtered list as CSV (up to 100,000 rows)."""
    session, filters = db_session(), _list_args()
    missions = await collect_pages(
        lambda cursor: queries.list_missions(session, g.ctx.org_id, cursor=cursor, limit=1000, **filters)
    )
    rows = [
        [
            m.id,
            m.name,
            m.status,
            m.destination,
            m.crew_size,
            m.launch_date and m.launch_date.isoformat(),
            m.landing_date and m.landing_date.isoformat(),
            m.recycle_target_kg_per_day,
            m.created_at.isoformat(),
        ]
        for m in missions
    ]
    return csv_response(f"missions-{g.ctx.org_slug}.csv", CSV_COLUMNS, rows)


def _form_from_mission(mission) -> MissionForm:
    data = {name: getattr(mission, name) for name in MissionForm().values()}
    for name in ("launch_date", "landing_date"):
        data[name] = data[name].date().isoformat() if data[name] else ""
    for name, value in data.items():
        if value is None:
            data[name] = ""
        elif hasattr(value, "normalize"):
            data[name] = f"{value.normalize():f}"
    data["status"], data["destination"] = mission.status.value, mission.destination.value
    data["tags"] = ", ".join(mission.tags)
    return MissionForm(data=data | {"version": mission.version})


@bp.get("/new")
@requires(Perm.MISSIONS_WRITE)
async def new():
    """The create form, prefilled with the organization's planning defaults (its settings)."""
    defaults = await service.planning_defaults(db_session(), g.ctx.org_id)
    prefilled = {
        name: f"{value.normalize():f}" for name, value in defaults.items() if name != "recycle_target_kg_per_day"
    }
    return await render("missions/form.html", form=MissionForm(data=prefilled), mission=None)


@bp.post("")
@requires(Perm.MISSIONS_WRITE)
async def create():
    """Create; errors come back on the form (422), success opens the mission."""
    form = MissionForm(formdata=MultiDict(await request.form))
    try:
        mission = await service.create_mission(db_session(), g.ctx, form.values())
    except (ValidationError, Conflict) as exc:
        show_errors(form, exc)
        return await render("missions/form.html", form=form, mission=None, status=exc.status_code)
    await flash(f"{mission.name} created.", "success")
    return redirect(url_for("missions.show", mission_id=mission.id), 303)


@bp.get("/<uuid:mission_id>")
@requires(Perm.MISSIONS_READ)
async def show(mission_id: uuid.UUID):
    """The mission dashboard: planning settings, crew, daily waste by material (chart), modules, products."""
    session = db_session()
    mission = await queries.get_mission(session, g.ctx.org_id, mission_id)
    crew = await queries.list_crew(session, mission.id, include_removed=True)
    return await render(
        "missions/show.html",
        mission=mission,
        **await dashboard_context(mission),
        crew=crew,
        crew_form=await crew_form(session, crew),
        **await thread_context("missions", mission.id),
        **await files_context("missions", mission.id),
    )


async def dashboard_context(mission) -> dict:
    """The dashboard's figures besides the crew: daily waste by material, modules, recorded products beside the
    latest plan (totals and a cumulative chart), recent runs."""
    from webapp.simulations import queries as products
    from webapp.simulations.charts import plan_vs_record_chart

    session, org_id = db_session(), g.ctx.org_id
    waste = await catalog_queries.daily_waste(session, org_id, mission.crew_size)
    runs = await products.list_runs(session, org_id, mission.id, limit=10) if g.ctx.can("simulations:read") else None
    plan = await products.latest_plan(session, org_id, mission.id)
    recorded = await products.daily_kg(session, org_id, mission.id)
    planned = await products.daily_kg(session, org_id, mission.id, run_id=plan.run_id) if plan else {}
    if plan:
        chart = plan_vs_record_chart(plan.first_day, plan.last_day, planned, recorded)
    else:
        days = [day for by_day in recorded.values() for day in by_day]
        chart = plan_vs_record_chart(min(days), max(days), {}, recorded) if days else None
    return {
        "waste": waste,
        "waste_total": sum(w.kg_per_day for w in waste),
        "modules": await catalog_queries.module_summaries(session, org_id, str(mission.destination)),
        "product_totals": await products.product_totals(session, org_id, mission.id, plan),
        "plan": plan,
        "products_chart": chart,
        "runs": runs,
    }


async def crew_form(session, crew: list) -> CrewForm:
    """The assign form offering the organization's active members who are not on this crew already."""
    from webapp.organizations.queries import list_members

    aboard = {c.user_id for c in crew if c.removed_at is None}
    form = CrewForm()
    form.user_id.choices = choices(
        (m.user_id, f"{m.name} ({m.email})")
        for m in await list_members(session, g.ctx.org_id)
        if m.active and m.user_id not in aboard
    )
    return form


@bp.get("/<uuid:mission_id>/edit")
@requires(Perm.MISSIONS_WRITE)
async def edit(mission_id: uuid.UUID):
    """The edit form."""
    mission = await queries.get_mission(db_session(), g.ctx.org_id, mission_id)
    return await render("missions/form.html", form=_form_from_mission(mission), mission=mission)


@bp.post("/<uuid:mission_id>")
@requires(Perm.MISSIONS_WRITE, mission_param="mission_id")
async def update(mission_id: uuid.UUID):
    """Save; a stale form shows a conflict fragment with the saved values next to the typed ones."""
    session = db_session()
    form = MissionForm(formdata=MultiDict(await request.form))
    version = int(form.version.data) if (form.version.data or "").isdigit() else None
    try:
        await service.update_mission(session, g.ctx, mission_id, form.values(), version=version)
    except Conflict as exc:
        mission = await queries.get_mission(session, g.ctx.org_id, mission_id)
        if "current" not in exc.details:
            show_errors(form, exc)
            return await render("missions/form.html", "missions/_form.html", form=form, mission=mission, status=409)
        form.version.data = mission.version
        return await render(
            "missions/form.html",
            "missions/_form.html",
            form=form,
            mission=mission,
            conflict=differences(service.snapshot(mission), form.values(), form_labels(form, service.FIELDS)),
            status=409,
        )
    except ValidationError as exc:
        show_errors(form, exc)
        mission = await queries.get_mission(session, g.ctx.org_id, mission_id)
        return await render("missions/form.html", "missions/_form.html", form=form, mission=mission, status=422)
    await flash("Mission saved.", "success")
    target = url_for("missions.show", mission_id=mission_id)
    if is_htmx():
        return "", 204, {"HX-Redirect": target}
    return redirect(target, 303)


@bp.post("/<uuid:mission_id>/delete")
@requires(Perm.MISSIONS_WRITE, mission_param="mission_id")
async def delete(mission_id: uuid.UUID):
    """Soft delete; the list offers Undo (htmx swaps the row into an undo row)."""
    mission = await service.delete_mission(db_session(), g.ctx, mission_id)
    if is_htmx() and request.headers.get("HX-Target", "").startswith("mission-"):
        response = await render("missions/_mission_deleted_row.html", mission=mission)
        return toast(response, f"{mission.name} deleted.")
    await flash_undo(f"{mission.name} deleted.", url_for("missions.restore", mission_id=mission.id))
    return redirect(url_for("missions.index"), 303)


@bp.post("/<uuid:mission_id>/restore")
@requires(Perm.MISSIONS_WRITE)
async def restore(mission_id: uuid.UUID):
    """Undo a delete."""
    session = db_session()
    mission = await service.restore_mission(session, g.ctx, mission_id)
    if is_htmx() and request.headers.get("HX-Target", "").startswith("mission-"):
        row = await queries.get_mission_row(session, g.ctx.org_id, mission.id)
        return toast(await render("missions/_mission_row.html", mission=row), f"{mission.name} restored.")
    await flash(f"{mission.name} restored.", "success")
    return redirect(url_for("missions.show", mission_id=mission.id), 303)
