"""Simulation-run pages: start from a mission, watch live (SSE, polling without it), results with charts, compare."""

from __future__ import annotations

import uuid

from quart import Blueprint, current_app, flash, g, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from webapp.catalog.queries import planning_catalog
from webapp.collaboration.file_views import files_context
from webapp.collaboration.views import thread_context
from webapp.core.errors import Conflict, ValidationError
from webapp.core.forms import show_errors
from webapp.core.htmx import is_htmx, render, toast
from webapp.core.ids import parse_id
from webapp.core.listing import list_args, lists
from webapp.core.live import realtime
from webapp.core.pagination import parse_limit
from webapp.core.permissions import Perm, requires
from webapp.core.sse import format_event
from webapp.core.transaction import db_session
from webapp.missions.queries import get_mission, mission_names
from webapp.simulations import queries, streams
from webapp.simulations.charts import result_charts
from webapp.simulations.enums import RunStatus, RunType
from webapp.simulations.events import run_payload
from webapp.simulations.forms import RunForm
from webapp.simulations.service import runs as run_service
from webapp.simulations.tasks import enqueue_run
from webapp.usage import credits

bp = Blueprint("simulations", __name__, url_prefix="/o/<org_slug>")
LOG_TAIL = 30


@bp.get("/missions/<uuid:mission_id>/simulations")
@requires(Perm.SIMULATIONS_READ)
async def index(mission_id: uuid.UUID):
    """A mission's runs, newest first, updating live; the fragment is the dashboard's runs section."""
    session = db_session()
    mission = await get_mission(session, g.ctx.org_id, mission_id)
    page = await queries.list_runs(
        session,
        g.ctx.org_id,
        mission_id,
        cursor=request.args.get("cursor") or None,
        limit=parse_limit(request.args.get("limit")),
    )
    return await render("simulations/index.html", "simulations/_runs.html", mission=mission, page=page)


def _run_filters() -> dict:
    return list_args("mission_id", "status", "run_type", "tag")


@bp.get("/simulation-runs")
@requires(Perm.SIMULATIONS_READ)
@lists(queries.RUNS)
async def runs():
    """Every mission's runs, filtered and sorted, statuses live; htmx asks for the results or the next rows only."""
    session = db_session()
    filters, sort = _run_filters(), request.args.get("sort", "")
    page = await queries.list_org_runs(
        session,
        g.ctx.org_id,
        filters=filters,
        sort=sort or None,
        cursor=request.args.get("cursor") or None,
        limit=parse_limit(request.args.get("limit")),
    )
    context = {
        "page": page,
        "filters": filters,
        "sort": queries.RUNS.parse_sort(sort or None),
        "missions": await mission_names(session, g.ctx.org_id),
        "statuses": list(RunStatus),
        "run_types": list(RunType),
        "filtered": any(filters.values()),
    }
    if is_htmx() and request.args.get("cursor"):
        return await render("simulations/_org_run_rows.html", **context)
    context["total"] = await queries.total_org_runs(session, g.ctx.org_id, filters, page)
    if is_htmx() and request.headers.get("HX-Target") == "run-results":
        return await render("simulations/_org_run_results.html", **context)
    return await render("simulations/runs.html", **context)


@bp.get("/simulation-runs/events")
@requires(Perm.SIMULATIONS_READ)
async def runs_events():
    """SSE for the organization's run lists: each run's status cell as it changes; `runs-changed` on start or end."""
    return await streams.stream_org_runs(g.ctx.org_id, _list_frames())


def _list_frames():
    # the template is looked up now, in the request: frames are rendered while streaming, outside the app context
    template = current_app.jinja_env.get_template("simulations/_run_status.html")

    async def frames(state: dict) -> list[bytes]:
        html = await template.render_async(state=state)
        out = [format_event(html, event=f"run-{state['id']}")]
        if (
            state["finished"]
            or state["status"] == "queued"
            or (state["status"] == "running" and state["progress"] == 0)
        ):
            out.append(format_event("changed", event="runs-changed"))
        return out

    return frames


@bp.get("/missions/<uuid:mission_id>/simulations/events")
@requires(Perm.SIMULATIONS_READ)
async def index_events(mission_id: uuid.UUID):
    """SSE for a run list: each run's status cell as it changes; `runs-changed` when a run starts or ends."""
    await get_mission(db_session(), g.ctx.org_id, mission_id)
    return await streams.stream_mission_runs(mission_id, _list_frames())


@bp.get("/missions/<uuid:mission_id>/simulations/new")
@requires(Perm.SIMULATIONS_RUN, mission_param="mission_id")
async def new(mission_id: uuid.UUID):
    """The start form (a modal's body for htmx); `?from=<run id>` fills it from an earlier run."""
    mission = await get_mission(db_session(), g.ctx.org_id, mission_id)
    form = RunForm()
    source = parse_id(request.args.get("from", ""))
    if source:
        form = RunForm.from_run(await queries.get_run(db_session(), g.ctx.org_id, source))
    form.offer_modules(await _modules(mission))
    return await render(
        "simulations/new.html", "simulations/_form.html", form=form, mission=mission,
        credits=await credits.balance_of(db_session(), g.ctx.org_id),
    )  # fmt: skip


@bp.post("/missions/<uuid:mission_id>/simulations")
@requires(Perm.SIMULATIONS_RUN, mission_param="mission_id")
async def create(mission_id: uuid.UUID):
    """Start a run and go to its live page; problems come back on the form."""
    session = db_session()
    mission = await get_mission(session, g.ctx.org_id, mission_id)
    form = RunForm(formdata=MultiDict(await request.form))
    try:
        name, run_type, config = run_service.parse_run_request(form.request_values())
        run = await run_service.start_run(session, g.ctx, mission_id, name, run_type, config, enqueue_run)
    except ValidationError as exc:
        show_errors(form, exc)
        form.show_sweep_errors(exc.details.get("fields", {}))
        form.offer_modules(await _modules(mission))  # only to show the form again: a started run reads the catalog once
        return await render(
            "simulations/new.html",
            "simulations/_form.html",
            form=form,
            mission=mission,
            problem=exc.message if not exc.details.get("fields") or exc.message != exc.default_message else None,
            credits=await credits.balance_of(session, g.ctx.org_id),
            status=422,
        )
    target = url_for("simulations.show", run_id=run.id)
    return ("", 204, {"HX-Redirect": target}) if is_htmx() else redirect(target, 303)


async def _modules(mission) -> list[dict]:
    """The modules a run of this mission plans with (a trade study may sweep their units)."""
    catalog = await planning_catalog(db_session(), g.ctx.org_id, str(mission.destination))
    return catalog["modules"]


async def _run_context(run) -> dict:
    session = db_session()
    logs = await queries.run_logs(session, g.ctx.org_id, run.id, limit=500)
    context = {
        "run": run,
        "state": run_payload(run),
        "logs": logs[-LOG_TAIL:],
        "mission": await get_mission(session, g.ctx.org_id, run.mission_id),
        "results_url": url_for("simulations.results", run_id=run.id),
        "previous_run": await queries.previous_finished_run(session, g.ctx.org_id, run),
    }
    if run.results:
        context |= {
            "charts": result_charts(run.results, run.input_snapshot),
            "products": await queries.run_products(session, g.ctx.org_id, run.id),
        }
    return context


@bp.get("/simulation-runs/<uuid:run_id>")
@requires(Perm.SIMULATIONS_READ)
async def show(run_id: uuid.UUID):
    """One run: live progress and log tail until it ends, then KPIs, charts, products and its inputs."""
    run = await queries.get_run(db_session(), g.ctx.org_id, run_id)
    return await render(
        "simulations/show.html",
        **await _run_context(run),
        **await thread_context("simulation-runs", run.id),
        **await files_context("simulation-runs", run.id),
    )


@bp.post("/simulation-runs/<uuid:run_id>/tags")
@requires(Perm.SIMULATIONS_RUN)
async def tag(run_id: uuid.UUID):
    """Save a run's tags (the inline form under its title); htmx gets the tags back."""
    form = await request.form
    version = int(form["version"]) if (form.get("version") or "").isdigit() else None
    session = db_session()
    error, status = None, 200
    try:
        await run_service.tag_run(session, g.ctx, run_id, form.get("tags", ""), version=version)
    except (ValidationError, Conflict) as exc:
        error, status = exc.message, exc.status_code
        if isinstance(exc, ValidationError):
            error = " ".join(m for ms in exc.details.get("fields", {}).values() for m in ms) or exc.message
    run = await queries.get_run(session, g.ctx.org_id, run_id)
    if not is_htmx():
        if error:
            await flash(error, "error")
        return redirect(url_for("simulations.show", run_id=run_id), 303)
    response = await render(
        "simulations/_run_tags.html", run=run, tag_error=error, typed=form.get("tags"), status=status
    )
    return toast(response, "Tags saved.") if not error else response


@bp.get("/simulation-runs/<uuid:run_id>/results")
@requires(Perm.SIMULATIONS_READ)
async def results(run_id: uuid.UUID):
    """The results section (swapped in when a live run finishes), with the final log tail out of band."""
    run = await queries.get_run(db_session(), g.ctx.org_id, run_id)
    return await render("simulations/_results.html", "simulations/_results_swap.html", **await _run_context(run))


@bp.get("/simulation-runs/<uuid:run_id>/progress")
@requires(Perm.SIMULATIONS_READ)
async def progress(run_id: uuid.UUID):
    """Polling fallback: the progress fragment; 286 tells htmx to stop once the run is final."""
    row = await queries.get_run_state(db_session(), g.ctx.org_id, run_id)
    state = run_payload(row)
    logs = (await queries.run_logs(db_session(), g.ctx.org_id, run_id, limit=500))[-LOG_TAIL:]
    response = await render(
        "simulations/_progress.html",
        "simulations/_progress.html",
        state=state,
        logs=logs,
        run_id=run_id,
        results_url=url_for("simulations.results", run_id=run_id),
    )
    if state["finished"] and is_htmx():
        response.status_code = 286
    return response


@bp.get("/simulations/<uuid:run_id>/subscribe")
@requires(Perm.SIMULATIONS_READ)
async def subscribe(run_id: uuid.UUID):
    """SSE: the progress fragment and new log lines, the current state first; `done` once final."""
    template = current_app.jinja_env.get_template("simulations/_progress_bar.html")
    line = current_app.jinja_env.get_template("simulations/_log_line.html")
    # frames are rendered while streaming, outside the request: nothing in them may need url_for
    results_url = url_for("simulations.results", run_id=run_id)

    async def frames(state: dict) -> list[bytes]:
        out = [
            format_event(
                await template.render_async(state=state, run_id=run_id, results_url=results_url), event="progress"
            )
        ]
        for entry in state.get("logs", []):
            out.append(format_event(await line.render_async(entry=entry), event="log"))
        if state["finished"]:
            out.append(format_event("done", event="done"))
        return out

    return await streams.stream_run(run_id, frames)


@bp.get("/simulation-runs/<uuid:run_id>/logs")
@requires(Perm.SIMULATIONS_READ)
async def logs(run_id: uuid.UUID):
    """The whole log of a run."""
    run = await queries.get_run(db_session(), g.ctx.org_id, run_id)
    lines = await queries.run_logs(db_session(), g.ctx.org_id, run_id, limit=5000)
    return await render("simulations/logs.html", run=run, logs=lines)


@bp.post("/simulation-runs/<uuid:run_id>/cancel")
@requires(Perm.SIMULATIONS_RUN)
async def cancel(run_id: uuid.UUID):
    """Cancel a queued or running run."""
    redis, namespace = realtime()
    try:
        await run_service.cancel_run(db_session(), g.ctx, run_id, redis, namespace)
    except Conflict as exc:
        if is_htmx():
            raise
        await flash(exc.message, "error")
        return redirect(url_for("simulations.show", run_id=run_id), 303)
    if is_htmx():  # the page says "Cancelling…" already; the live stream brings the end
        return "", 204
    await flash("Cancelling the run.", "success")
    return redirect(url_for("simulations.show", run_id=run_id), 303)


@bp.post("/simulation-runs/<uuid:run_id>/rerun")
@requires(Perm.SIMULATIONS_RUN)
async def rerun(run_id: uuid.UUID):
    """Run again with the same inputs and seed."""
    run = await run_service.rerun(db_session(), g.ctx, run_id, enqueue_run)
    return redirect(url_for("simulations.show", run_id=run.id), 303)


@bp.post("/simulation-runs/<uuid:run_id>/delete")
@requires(Perm.SIMULATIONS_RUN)
async def delete(run_id: uuid.UUID):
    """Delete a finished run and its plan (its planned products)."""
    run = await run_service.delete_run(db_session(), g.ctx, run_id)
    await flash(f"Run “{run.name}” deleted.", "success")
    return redirect(url_for("simulations.index", mission_id=run.mission_id), 303)


@bp.get("/simulation-runs/compare")
@requires(Perm.SIMULATIONS_READ)
async def compare():
    """Two runs side by side: settings, KPIs and their differences."""
    session = db_session()
    ids = [parse_id(request.args.get(k, "")) for k in ("a", "b")]
    runs = None if None in ids else [await queries.get_run(session, g.ctx.org_id, run_id) for run_id in ids]
    missions = dict(await mission_names(session, g.ctx.org_id))
    return await render(
        "simulations/compare.html",
        runs=runs,
        missions=missions,
        choices=await queries.compare_choices(session, g.ctx.org_id),
        selected=ids,
        settings=COMPARED_SETTINGS,
        kpis=COMPARED_KPIS,
    )


# what the compare page puts side by side: (key, label, unit); KPIs also scale (fractions shown as %)
COMPARED_SETTINGS = (
    ("crew_size", "Crew size", "people"),
    ("recycle_target_kg_per_day", "Recycling target", "kg/day"),
    ("energy_budget_kwh_per_day", "Energy budget", "kWh/day"),
    ("crew_time_h_per_day", "Crew time", "h/day"),
    ("regolith_supply_kg_per_day", "Regolith supply", "kg/day"),
    ("wet_waste_cap_days", "Wet waste kept at most", "days"),
)
COMPARED_KPIS = (
    ("target_kg", "Target product", 1, "kg"),
    ("recycling_rate", "Recycling rate", 100, "%"),
    ("trash_recycling_rate", "Trash recycled (no feces or brine)", 100, "%"),
    ("useful_recovery_rate", "Useful recovery", 100, "%"),
    ("waste_derived_share", "Share of target from waste", 100, "%"),
    ("water_recovered_kg", "Water recovered", 1, "kg"),
    ("energy_kwh", "Energy", 1, "kWh"),
    ("kwh_per_kg", "Energy per kg of product", 1, "kWh/kg"),
    ("kwh_per_kg_waste", "Energy per kg of waste processed", 1, "kWh/kg"),
    ("kwh_per_kg_useful_from_waste", "Energy per kg made from waste", 1, "kWh/kg"),
    ("waste_stored_kg", "Waste stored at the end", 1, "kg"),
    ("volume_reduction", "Storage volume saved", 100, "%"),
    ("products_stored_m3", "Products in storage", 1, "m³"),
    ("logistics_kg", "Spares and consumables", 1, "kg"),
    ("net_useful_kg", "Made from waste, net of spares and consumables", 1, "kg"),
)
