"""Usage and credits over JSON: the period's usage per metric; the balance with open holds, the ledger (cursor
pagination), and corrections. The `/api/v1/credits` and `/api/v1/usage` routes serve credentials bound to one
organization (API keys, access tokens); browser sessions use the `/api/v1/organizations/{org}/...` twins."""

from __future__ import annotations

import uuid

from quart import Blueprint, g
from quart_schema import document_request

from webapp.core.forms import parse_body, parse_query
from webapp.core.openapi import Items, Page, PageQuery, query, raises, returns
from webapp.core.permissions import Perm, require_bound_credential, requires
from webapp.core.transaction import db_session
from webapp.usage import credits, overages, queries, report, service
from webapp.usage.schemas import AdjustIn, CreditsOut, EntryOut, HoldOut, OverageOut, UsageOut, UsageQuery

bp = Blueprint("credits_api", __name__, url_prefix="/api/v1/credits")
org_bp = Blueprint("org_credits_api", __name__, url_prefix="/api/v1/organizations/<org:org_id>/credits")
usage_bp = Blueprint("usage_api", __name__, url_prefix="/api/v1/usage")
org_usage_bp = Blueprint("org_usage_api", __name__, url_prefix="/api/v1/organizations/<org:org_id>/usage")


def entry_out(entry) -> dict:
    """CreditEntry -> response JSON."""
    return EntryOut.model_validate(entry, from_attributes=True).model_dump(mode="json")


async def _credits() -> dict:
    session = db_session()
    now = await credits.balance_of(session, g.ctx.org_id)
    holds = await queries.open_holds(session, g.ctx.org_id)
    return CreditsOut(
        balance=now.balance, held=now.held, available=now.available,
        holds=[HoldOut.model_validate(h, from_attributes=True) for h in holds],
    ).model_dump(mode="json")  # fmt: skip


async def _ledger() -> dict:
    args = parse_query(PageQuery)  # the documented parameters, strictly: an empty or repeated one is a 400
    page = await queries.list_entries(db_session(), g.ctx.org_id, cursor=args.cursor or None, limit=args.limit)
    return {"items": [entry_out(e) for e in page.items], "next_cursor": page.next_cursor}


async def _adjust() -> tuple[dict, int]:
    body = await parse_body(AdjustIn)
    entry = await service.adjust_credits(db_session(), g.ctx, body.amount, body.reason, body.idempotency_key)
    return entry_out(entry), 201


@bp.get("")
@requires(Perm.BILLING_READ)
@returns(CreditsOut)
async def get_credits():
    """The credential's organization's credits: balance, held, available, and the holds not resolved yet."""
    await require_bound_credential()
    return await _credits()


@bp.get("/ledger")
@requires(Perm.BILLING_READ)
@query(PageQuery)
@returns(Page[EntryOut])
async def get_ledger():
    """Every change to the credits, newest first; cursor pagination with `limit` and `cursor`."""
    await require_bound_credential()
    return await _ledger()


@bp.post("/adjust")
@requires(Perm.BILLING_MANAGE)
@document_request(AdjustIn)
@returns(EntryOut, 201)
@raises(402, 403)
async def adjust():
    """Correct the credits with a reason (audited): a negative amount takes credits away (402 when fewer are
    available); only ClosedLoop staff may give a positive one (403). The same `idempotency_key` changes nothing more."""
    await require_bound_credential()
    return await _adjust()


@org_bp.get("")
@requires(Perm.BILLING_READ)
@returns(CreditsOut)
async def get_organization_credits(org_id: uuid.UUID | str):
    """The organization's credits (the same as GET /credits, for browser sessions)."""
    return await _credits()


@org_bp.get("/ledger")
@requires(Perm.BILLING_READ)
@query(PageQuery)
@returns(Page[EntryOut])
async def get_organization_ledger(org_id: uuid.UUID | str):
    """The organization's ledger (the same as GET /credits/ledger, for browser sessions)."""
    return await _ledger()


@org_bp.post("/adjust")
@requires(Perm.BILLING_MANAGE)
@document_request(AdjustIn)
@returns(EntryOut, 201)
@raises(402, 403)
async def adjust_for_organization(org_id: uuid.UUID | str):
    """Correct the organization's credits (the same as POST /credits/adjust, for browser sessions)."""
    return await _adjust()


def usage_out(found: report.Report) -> dict:
    """A usage report -> response JSON."""
    return UsageOut(
        period_start=found.period_start, period_end=found.period_end, currency=found.currency, plan=found.plan_name,
        metrics=[
            {
                "code": m.code, "name": m.name, "unit": m.unit, "aggregation": m.aggregation, "total": m.total,
                "included": m.included, "overage_units": m.overage_units, "overage_amount_minor": m.overage_minor,
                "forecast": m.forecast, "daily": [{"date": day, "value": value} for day, value in m.daily],
            }
            for m in found.metrics
        ],
    ).model_dump(mode="json")  # fmt: skip


async def _usage() -> dict:
    which = parse_query(UsageQuery).period
    return usage_out(await report.usage_report(db_session(), g.ctx.org_id, which))


@usage_bp.get("")
@requires(Perm.BILLING_READ)
@query(UsageQuery)
@returns(UsageOut)
async def get_usage():
    """The credential's organization's usage in the current (or previous) billing period: per metric the total,
    what the plan includes, the overage so far, a forecast and the daily series (UTC days)."""
    await require_bound_credential()
    return await _usage()


@org_usage_bp.get("")
@requires(Perm.BILLING_READ)
@query(UsageQuery)
@returns(UsageOut)
async def get_organization_usage(org_id: uuid.UUID | str):
    """The organization's usage (the same as GET /usage, for browser sessions)."""
    return await _usage()


async def _overages() -> dict:
    fees = await overages.list_fees(db_session(), g.ctx.org_id)
    return {"items": [OverageOut.model_validate(f, from_attributes=True).model_dump(mode="json") for f in fees]}


@usage_bp.get("/overages")
@requires(Perm.BILLING_READ)
@returns(Items[OverageOut])
async def get_overages():
    """Usage beyond the plan in closed periods (the last 100 fees, newest period first), each with the invoice
    that bills it. A period closes `usage.late_days` after it ends."""
    await require_bound_credential()
    return await _overages()


@org_usage_bp.get("/overages")
@requires(Perm.BILLING_READ)
@returns(Items[OverageOut])
async def get_organization_overages(org_id: uuid.UUID | str):
    """The organization's overage fees (the same as GET /usage/overages, for browser sessions)."""
    return await _overages()
