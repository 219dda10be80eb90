"""JSON API of billing: the public plan list (cacheable, with an ETag) and any plan version by id."""

from __future__ import annotations

import uuid

from quart import Blueprint, request

from webapp.billing import plans
from webapp.billing.models import Plan
from webapp.billing.schemas import MeterOut, PlanList, PlanOut
from webapp.core.openapi import returns
from webapp.core.permissions import public
from webapp.core.transaction import db_session

bp = Blueprint("billing_api", __name__, url_prefix="/api/v1/billing")
CACHE = "public, max-age=300"  # prices change rarely, and a changed one is a new version with its own id


def plan_out(plan: Plan) -> dict:
    """Plan -> response JSON."""
    return PlanOut(
        id=plan.id, key=plan.key, version=plan.version, name=plan.name, description=plan.description,
        status=plan.status, is_default=plan.is_default, currency=plan.currency,
        monthly_price_minor=plan.monthly_price_minor, yearly_price_minor=plan.yearly_price_minor,
        seat_price_minor=plan.seat_price_minor, included_seats=plan.included_seats, seat_limit=plan.seat_limit,
        mission_limit=plan.mission_limit, storage_limit_bytes=plan.storage_limit_bytes,
        monthly_run_limit=plan.monthly_run_limit,
        meters=[
            MeterOut(metric=m.metric, included=m.included, unit_size=m.unit_size,
                     overage_price_minor=m.overage_price_minor)
            for m in plan.meters
        ],
        created_at=plan.created_at,
    ).model_dump(mode="json")  # fmt: skip


@bp.get("/plans")
@public
@returns(PlanList)
@returns(None, 304)
async def list_plans():
    """The plans offered now, cheapest first: prices in minor units, seats, limits, and what each includes of every
    metered item with its overage price. Send the `ETag` back in `If-None-Match` to get a 304 while nothing
    changed."""
    offered = await plans.current_plans(db_session())
    tag = plans.etag_of(offered)
    headers = {"ETag": f'"{tag}"', "Cache-Control": CACHE}
    if request.if_none_match.contains(tag):
        return "", 304, headers
    return {"items": [plan_out(p) for p in offered]}, 200, headers


@bp.get("/plans/<uuid:plan_id>")
@public
@returns(PlanOut)
@returns(None, 304)
async def get_plan(plan_id: uuid.UUID):
    """One plan version, current or not (a subscription names the version it bought)."""
    plan = await plans.get_plan(db_session(), plan_id)
    tag = plans.etag_of([plan])
    headers = {"ETag": f'"{tag}"', "Cache-Control": CACHE}
    if request.if_none_match.contains(tag):
        return "", 304, headers
    return plan_out(plan), 200, headers
