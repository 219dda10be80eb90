"""JSON API for system checks (cookie session or API key)."""
from __future__ import annotations

import uuid

from quart import Blueprint, g, request, url_for
from quart_schema import document_request, validate_response

from webapp.core.errors import BadRequest
from webapp.core.forms import parse_body
from webapp.core.pagination import parse_limit
from webapp.core.permissions import Perm, requires
from webapp.core.transaction import db_session
from webapp.ops import queries, service
from webapp.ops.models import SystemCheck
from webapp.ops.schemas import CheckList, CheckOut, CheckRequest
from webapp.ops.tasks import enqueue_system_check

bp = Blueprint("ops_api", __name__, url_prefix="/api/v1/organizations/<uuid:org_id>/system-checks")


def to_out(check: SystemCheck) -> CheckOut:
    """Model -> response schema."""
    return CheckOut(
        id=str(check.id), organization_id=str(check.organization_id), status=str(check.status),
        progress=check.progress, attempt=check.attempt, steps=check.steps, error=check.error,
        created_at=check.created_at, started_at=check.started_at, finished_at=check.finished_at,
    )


@bp.post("")
@requires(Perm.OPS_RUN)
@document_request(CheckRequest)
async def create(org_id: uuid.UUID):
    """Queue a system check: 201 with Location."""
    data = await parse_body(CheckRequest)
    steps = service.parse_steps(data.steps)
    check = await service.request_check(db_session(), g.ctx, steps, enqueue_system_check)
    await db_session().refresh(check)
    location = url_for("ops_api.show", org_id=org_id, check_id=check.id)
    return to_out(check).model_dump(mode="json"), 201, {"Location": location}


@bp.get("")
@requires(Perm.OPS_READ)
@validate_response(CheckList)
async def index(org_id: uuid.UUID):
    """Checks, newest first, with cursor pagination."""
    page = await queries.list_checks(db_session(), g.ctx.org_id, cursor=request.args.get("cursor"),
                                     limit=parse_limit(request.args.get("limit")))
    return CheckList(items=[to_out(c) for c in page.items], next_cursor=page.next_cursor)


@bp.get("/<check_id>")
@requires(Perm.OPS_READ)
@validate_response(CheckOut)
async def show(org_id: uuid.UUID, check_id: str):
    """One check."""
    try:
        parsed = uuid.UUID(check_id)
    except ValueError as exc:
        raise BadRequest("check_id must be a UUID.", {"check_id": check_id}) from exc
    return to_out(await queries.get_check(db_session(), g.ctx.org_id, parsed))
