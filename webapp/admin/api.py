"""Staff JSON API: rebuild every organization's search index (a platform admin's browser session)."""

from __future__ import annotations

import uuid

from quart import Blueprint, g, url_for

from webapp.core.openapi import raises, returns
from webapp.core.permissions import requires, staff_only
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import db_session
from webapp.search import jobs
from webapp.search.events import job_payload
from webapp.search.schemas import ReindexJobOut
from webapp.search.tasks import enqueue_reindex

bp = Blueprint("admin_api", __name__, url_prefix="/api/v1/admin")


async def _staff_session():
    staff_only()
    session = db_session()
    await enable_rls_bypass(session, reason="platform admin manages the search index")
    return session


@bp.post("/rebuild-search")
@requires()
@returns(ReindexJobOut, 202, creates="admin_api.get_search_rebuild")
@raises(409)
async def rebuild_search():
    """Staff only: rebuild every organization's search index on a worker (202 + Location of the job; audited);
    409 while one is under way. Anyone else gets a 404."""
    job = await jobs.request_rebuild(await _staff_session(), g.ctx, enqueue_reindex)
    return job_payload(job), 202, {"Location": url_for("admin_api.get_search_rebuild", job_id=job.id)}


@bp.get("/rebuild-search/<uuid:job_id>")
@requires()
@returns(ReindexJobOut)
async def get_search_rebuild(job_id: uuid.UUID):
    """Staff only: a platform rebuild's progress."""
    return job_payload(await jobs.get_job(await _staff_session(), None, job_id))
