"""Platform staff: list every organization and change its status (suspend, reinstate, archive); rebuild every
organization's search index."""

from __future__ import annotations

import uuid

from quart import Blueprint, flash, g, redirect, request, url_for

from webapp.core import audit
from webapp.core.errors import Conflict, ValidationError
from webapp.core.forms import read_form
from webapp.core.htmx import is_htmx, render
from webapp.core.live import realtime, stream_job
from webapp.core.permissions import requires, staff_only
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import db_session
from webapp.organizations import queries, service
from webapp.organizations.enums import OrgStatus
from webapp.organizations.forms import PlatformStatusForm
from webapp.search import jobs
from webapp.search.events import job_channel
from webapp.search.tasks import enqueue_reindex
from webapp.search.views import job_frames, job_state

bp = Blueprint("admin", __name__, url_prefix="/admin")


async def list_every_organization(*, status: str | None, q: str | None, include_deleted: bool = False):
    """All organizations through the RLS bypass, with an audit row saying who looked and why."""
    if status and status not in {s.value for s in OrgStatus}:
        raise ValidationError.field("status", "Choose active, suspended or archived.")
    session = db_session()
    await enable_rls_bypass(session, reason="platform admin lists organizations")
    rows = await queries.list_all_organizations(session, status=status, q=q, include_deleted=include_deleted)
    await audit.record(
        session,
        g.ctx,
        "platform.organizations_listed",
        entity_type="organization",
        entity_id=None,
        metadata={"status": status, "q": q, "rows": len(rows), "rls_bypass": True},
        organization_id=None,
    )
    return rows


@bp.get("/organizations")
@requires()
async def organizations():
    """Every organization with its members and status; filter by status or search by name."""
    staff_only()
    status, q = request.args.get("status") or None, (request.args.get("q") or "").strip() or None
    rows = await list_every_organization(status=status, q=q, include_deleted=request.args.get("deleted") == "1")
    return await render(
        "admin/organizations.html",
        rows=rows,
        status=status,
        q=q or "",
        statuses=list(OrgStatus),
        form=PlatformStatusForm(),
    )


@bp.post("/organizations/<uuid:target_id>/status")
@requires()
async def set_status(target_id: uuid.UUID):
    """Suspend, reinstate or archive an organization, with a reason the audit log keeps."""
    staff_only()
    form = await read_form(PlatformStatusForm)
    if not form.validate():
        raise ValidationError(details={"fields": {k: list(v) for k, v in form.errors.items()}})
    org = await service.set_status_as_platform(
        db_session(), g.ctx, target_id, status=form.status.data, reason=form.reason.data
    )
    await flash(f"{org.name} is now {org.status.value}.", "success")
    return redirect(url_for("admin.organizations"), 303)


# ---------------------------------------------------------------------------------------------- search index


async def _staff_session():
    staff_only()
    session = db_session()
    await enable_rls_bypass(session, reason="platform admin manages the search index")
    return session


@bp.get("/search")
@requires()
async def search_index():
    """Every organization's search index: the latest platform rebuild (live while it runs) and a rebuild."""
    session = await _staff_session()
    latest = await jobs.latest_job(session, None)
    return await render(
        "admin/search.html",
        latest=latest,
        state=job_state(latest) if latest else None,
        progress_url=lambda job_id: url_for("admin.search_job_progress", job_id=job_id),
        events_url=lambda job_id: url_for("admin.search_job_events", job_id=job_id),
    )


@bp.post("/search/rebuild")
@requires()
async def rebuild_search():
    """Queue a rebuild of every organization's index (audited)."""
    session = await _staff_session()
    try:
        await jobs.request_rebuild(session, g.ctx, enqueue_reindex)
    except Conflict as exc:
        await flash(exc.message, "info")
        return redirect(url_for("admin.search_index"), 303)
    await flash("Rebuilding every organization's search index.", "success")
    return redirect(url_for("admin.search_index"), 303)


@bp.get("/search/jobs/<uuid:job_id>/progress")
@requires()
async def search_job_progress(job_id: uuid.UUID):
    """Polling fallback of a platform rebuild's progress."""
    state = job_state(await jobs.get_job(await _staff_session(), None, job_id))
    response = await render("search/_job_progress.html", state=state)
    if state["finished"] and is_htmx():
        response.status_code = 286
    return response


@bp.get("/search/jobs/<uuid:job_id>/events")
@requires()
async def search_job_events(job_id: uuid.UUID):
    """SSE of a platform rebuild's progress."""
    await _staff_session()
    _, namespace = realtime()

    async def read_state() -> dict:
        return job_state(await jobs.get_job(db_session(), None, job_id))

    return await stream_job(job_channel(namespace, job_id), read_state, job_frames())
