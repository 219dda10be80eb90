"""Search in the browser: the header box (search-as-you-type, grouped by kind) and the full results page with
kind and tag filters."""

from __future__ import annotations

import uuid

from quart import Blueprint, current_app, flash, g, redirect, request, url_for

from webapp.collaboration.links import entity_url
from webapp.core.entities import KINDS, searchable_kinds
from webapp.core.errors import Conflict, ValidationError
from webapp.core.htmx import is_htmx, render
from webapp.core.live import progress_frames, realtime, stream_job
from webapp.core.pagination import parse_limit
from webapp.core.permissions import Perm, requires
from webapp.core.transaction import db_session
from webapp.search import jobs, queries
from webapp.search.events import job_channel, job_payload
from webapp.search.tasks import enqueue_reindex

bp = Blueprint("search", __name__, url_prefix="/o/<org_slug>/search")
SUGGESTIONS = 8


def hit_url(hit: queries.Hit) -> str:
    """The page of a hit."""
    return entity_url(hit.kind, hit.entity_id, hit.mission_id)


def _kinds():
    return [
        k
        for k in searchable_kinds()
        if g.ctx.can(k.read) or any(k.read in p for p in g.ctx.mission_permissions.values())
    ]


@bp.get("")
@requires()
async def results():
    """The full results page: query, kind and tag filters, load more."""
    args = request.args
    q, entity_type = args.get("q", ""), args.get("type") or None
    tags = [t for t in args.getlist("tag") if t.strip()]
    error = None
    try:
        found = await queries.search(
            db_session(),
            g.ctx,
            q,
            entity_type=entity_type,
            tags=tags,
            cursor=args.get("cursor") or None,
            limit=parse_limit(args.get("limit")),
        )
    except ValidationError as exc:
        found, error = (
            queries.Results([], None),
            " ".join(m for ms in exc.details.get("fields", {}).values() for m in ms),
        )
    context = {
        "q": q,
        "entity_type": entity_type,
        "tags": tags,
        "found": found,
        "groups": queries.grouped(found.items),
        "kinds": _kinds(),
        "hit_url": hit_url,
        "error": error,
        "status": 422 if error else 200,
    }
    if is_htmx() and args.get("cursor"):
        return await render("search/_hits.html", **context)
    return await render("search/results.html", "search/_results.html", **context)


@bp.get("/suggest")
@requires()
async def suggest():
    """The header box's dropdown: the best few hits, grouped by kind (htmx, as you type)."""
    q = request.args.get("q", "")
    try:
        found = await queries.search(db_session(), g.ctx, q, limit=SUGGESTIONS)
    except ValidationError:
        found = queries.Results([], None)
    return await render(
        "search/_suggest.html", q=q, groups=queries.grouped(found.items), hit_url=hit_url, more=found.next_cursor
    )


# ---------------------------------------------------------------------------------------------- the index itself


def job_state(job) -> dict:
    """A job as its progress fragment shows it."""
    return job_payload(job) | {"label": KINDS[job.entity_type].plural if job.entity_type else "Everything"}


@bp.get("/index")
@requires(Perm.SEARCH_REINDEX)
async def index_page():
    """The organization's search index: rows by kind, the latest rebuild (live while it runs), rebuild."""
    session = db_session()
    sizes = await jobs.index_size(session, g.ctx.org_id)
    latest = await jobs.latest_job(session, g.ctx.org_id)
    return await render(
        "search/index.html",
        sizes=[(k, sizes.get(k.name, 0)) for k in searchable_kinds()],
        latest=latest,
        state=job_state(latest) if latest else None,
        progress_url=lambda job_id: url_for("search.job_progress", job_id=job_id),
        events_url=lambda job_id: url_for("search.job_events", job_id=job_id),
    )


@bp.post("/index/rebuild")
@requires(Perm.SEARCH_REINDEX)
async def rebuild():
    """Queue a rebuild (one kind or all); the page then follows its progress."""
    form = await request.form
    try:
        await jobs.request_reindex(db_session(), g.ctx, form.get("entity_type") or None, enqueue_reindex)
    except Conflict as exc:
        await flash(exc.message, "info")
        return redirect(url_for("search.index_page"), 303)
    await flash("Rebuilding the search index.", "success")
    return redirect(url_for("search.index_page"), 303)


@bp.get("/index/jobs/<uuid:job_id>/progress")
@requires(Perm.SEARCH_REINDEX)
async def job_progress(job_id: uuid.UUID):
    """Polling fallback: the progress fragment; 286 stops htmx polling once final."""
    state = job_state(await jobs.get_job(db_session(), g.ctx.org_id, job_id))
    response = await render("search/_job_progress.html", state=state)
    if state["finished"] and is_htmx():
        response.status_code = 286
    return response


@bp.get("/index/jobs/<uuid:job_id>/events")
@requires(Perm.SEARCH_REINDEX)
async def job_events(job_id: uuid.UUID):
    """SSE of one rebuild's progress."""
    _, namespace = realtime()

    async def read_state() -> dict:
        return job_state(await jobs.get_job(db_session(), g.ctx.org_id, job_id))

    return await stream_job(job_channel(namespace, job_id), read_state, job_frames())


def job_frames():
    """SSE frames of a rebuild's progress fragment (the template looked up now, in the request)."""
    template = current_app.jinja_env.get_template("search/_job_progress.html")
    return progress_frames(template, lambda p: f"{p['attempt']}-{p['done']}-{p['status']}")
