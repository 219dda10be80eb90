"""Search in the browser: the header box (search-as-you-type, grouped by kind) and the full results page with
kind and tag filters."""

from __future__ import annotations

from quart import Blueprint, g, request

from webapp.collaboration.links import entity_url
from webapp.core.entities import searchable_kinds
from webapp.core.errors import ValidationError
from webapp.core.htmx import is_htmx, render
from webapp.core.pagination import parse_limit
from webapp.core.permissions import requires
from webapp.core.transaction import db_session
from webapp.search import queries

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
