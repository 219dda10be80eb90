"""JSON API for system checks (cookie session or API key)."""

from __future__ import annotations

import uuid

from quart import Blueprint, g, url_for
from quart_schema import document_request

from webapp.core.forms import parse_body, parse_query
from webapp.core.openapi import Page, PageQuery, query, returns
from webapp.core.permissions import Perm, requires
from webapp.core.transaction import db_session
from webapp.ops import queries, service
from webapp.ops.models import SystemCheck
from webapp.ops.schemas import CheckOut, CheckRequest
from webapp.ops.tasks import enqueue_system_check

bp = Blueprint("ops_api", __name__, url_prefix="/api/v1/organizations/<org:org_id>/system-checks")


def to_out(check: SystemCheck) -> CheckOut:
    """Model -> response schema."""
    return CheckOut(
        id=check.id,
        organization_id=check.organization_id,
        status=check.status,
        progress=check.progress,
        attempt=check.attempt,
        steps=check.steps,
        error=check.error,
        created_at=check.created_at,
        started_at=check.started_at,
        finished_at=check.finished_at,
    )


@bp.post("")
@requires(Perm.OPS_RUN)
@document_request(CheckRequest)
@returns(CheckOut, 201, creates="ops_api.show")
async def create(org_id: uuid.UUID | str):
    """Queue a system check: 201 with Location."""
    data = await parse_body(CheckRequest)
    steps = service.parse_steps(data.steps)
    check = await service.request_check(db_session(), g.ctx, steps, enqueue_system_check)
    await db_session().refresh(check)
    location = url_for("ops_api.show", org_id=g.ctx.org_id, check_id=check.id)
    return to_out(check).model_dump(mode="json"), 201, {"Location": location}


@bp.get("")
@requires(Perm.OPS_READ)
@query(PageQuery)
@returns(Page[CheckOut])
async def index(org_id: uuid.UUID | str):
    """Checks, newest first, with cursor pagination."""
    args = parse_query(PageQuery)
    page = await queries.list_checks(db_session(), g.ctx.org_id, cursor=args.cursor or None, limit=args.limit)
    return {"items": [to_out(c).model_dump(mode="json") for c in page.items], "next_cursor": page.next_cursor}


@bp.get("/<uuid:check_id>")
@requires(Perm.OPS_READ)
@returns(CheckOut)
async def show(org_id: uuid.UUID | str, check_id: uuid.UUID):
    """One check."""
    return to_out(await queries.get_check(db_session(), g.ctx.org_id, check_id)).model_dump(mode="json")
