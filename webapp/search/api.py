"""JSON API of search: GET /search for API keys and access tokens, and under the organization for browsers."""

from __future__ import annotations

import uuid

from quart import Blueprint, g, url_for
from quart_schema import document_request

from webapp.collaboration.links import url_maker
from webapp.core.errors import NotFound
from webapp.core.forms import parse_body, parse_query
from webapp.core.openapi import query, raises, returns
from webapp.core.permissions import Perm, require_bound_credential, requires
from webapp.core.transaction import db_session
from webapp.search import jobs, queries
from webapp.search.events import job_payload
from webapp.search.schemas import ReindexIn, ReindexJobOut, SearchQuery, SearchResults
from webapp.search.tasks import enqueue_reindex

bp = Blueprint("search_api", __name__, url_prefix="/api/v1/search")
bp.before_request(require_bound_credential)
org_bp = Blueprint("org_search_api", __name__, url_prefix="/api/v1/organizations/<org:org_id>/search")


async def _search() -> dict:
    args = parse_query(SearchQuery)
    if args.org_id is not None and args.org_id != g.ctx.org_id:
        raise NotFound("No such organization.")
    found = await queries.search(
        db_session(),
        g.ctx,
        args.q,
        entity_type=args.entity_type or None,
        tags=(args.tags or "").split(",") if args.tags else None,
        cursor=args.cursor or None,
        limit=args.limit,
    )
    url = url_maker()
    # plain dicts in HitOut's shape (the schema documents them): validating twenty models per keystroke of a
    # search-as-you-type client would cost more than the search
    items = [
        {
            "entity_type": h.entity_type,
            "entity_id": str(h.entity_id),
            "mission_id": str(h.mission_id) if h.mission_id else None,
            "title": h.title,
            "title_html": str(h.title_html),
            "snippet_html": str(h.snippet_html),
            "tags": h.tags,
            "rank": h.rank,
            "url": url(h.kind, h.entity_id, h.mission_id),
        }
        for h in found.items
    ]
    return {"items": items, "next_cursor": found.next_cursor}


@bp.get("")
@requires()
@query(SearchQuery)
@returns(SearchResults)
@raises(422)
async def search():
    """Search the credential's organization: ranked hits with highlighted snippets; only kinds the caller may
    read; deleted things never appear."""
    return await _search()


@org_bp.get("")
@requires()
@query(SearchQuery)
@returns(SearchResults)
@raises(422)
async def search_organization(org_id: uuid.UUID | str):
    """Search one organization (the same as GET /search, for browser sessions)."""
    return await _search()


@bp.post("/reindex")
@requires(Perm.SEARCH_REINDEX)
@document_request(ReindexIn)
@returns(ReindexJobOut, 202, creates="search_api.get_reindex")
@raises(409, 422)
async def reindex():
    """Rebuild the organization's index (one kind, or all) on a worker: 202 + Location of the job to follow;
    409 while a rebuild is under way (`details.current`)."""
    data = await parse_body(ReindexIn)
    job = await jobs.request_reindex(db_session(), g.ctx, data.entity_type, enqueue_reindex)
    location = url_for("search_api.get_reindex", job_id=job.id)
    return job_payload(job), 202, {"Location": location}


@bp.get("/reindex/<uuid:job_id>")
@requires(Perm.SEARCH_REINDEX)
@returns(ReindexJobOut)
async def get_reindex(job_id: uuid.UUID):
    """A rebuild's progress (poll until `finished`)."""
    return job_payload(await jobs.get_job(db_session(), g.ctx.org_id, job_id))


@org_bp.post("/reindex")
@requires(Perm.SEARCH_REINDEX)
@document_request(ReindexIn)
@returns(ReindexJobOut, 202, creates="org_search_api.get_organization_reindex")
@raises(409, 422)
async def reindex_organization(org_id: uuid.UUID | str):
    """Rebuild one organization's index (the same as POST /search/reindex, for browser sessions)."""
    data = await parse_body(ReindexIn)
    job = await jobs.request_reindex(db_session(), g.ctx, data.entity_type, enqueue_reindex)
    location = url_for("org_search_api.get_organization_reindex", org_id=g.ctx.org_id, job_id=job.id)
    return job_payload(job), 202, {"Location": location}


@org_bp.get("/reindex/<uuid:job_id>")
@requires(Perm.SEARCH_REINDEX)
@returns(ReindexJobOut)
async def get_organization_reindex(org_id: uuid.UUID | str, job_id: uuid.UUID):
    """A rebuild's progress (poll until `finished`)."""
    return job_payload(await jobs.get_job(db_session(), g.ctx.org_id, job_id))
