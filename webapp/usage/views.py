"""The credits page: balance, holds under way and the whole ledger, newest first ("load more" pages by cursor)."""

from __future__ import annotations

from quart import Blueprint, g, request

from webapp.core.htmx import is_htmx, render
from webapp.core.pagination import parse_limit
from webapp.core.permissions import Perm, requires
from webapp.core.transaction import db_session
from webapp.usage import credits, queries

bp = Blueprint("usage", __name__)


@bp.get("/o/<org_slug>/billing/credits")
@requires(Perm.BILLING_READ)
async def credit_ledger():
    """Every change to the organization's credits, with what each left; htmx asks for the next rows only."""
    session = db_session()
    cursor, limit = request.args.get("cursor") or None, parse_limit(request.args.get("limit"), 50)
    page = await queries.list_entries(session, g.ctx.org_id, cursor=cursor, limit=limit)
    if is_htmx() and request.args.get("cursor"):
        return await render("usage/_ledger_rows.html", page=page)
    return await render(
        "usage/credits.html", page=page, account=await credits.balance_of(session, g.ctx.org_id),
        holds=await queries.open_holds(session, g.ctx.org_id),
    )  # fmt: skip
