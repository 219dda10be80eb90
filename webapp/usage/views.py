"""The usage page (the period's metrics by day, forecast, overage, CSV) and the credits page (balance, holds
under way and the whole ledger, newest first; "load more" pages by cursor)."""

from __future__ import annotations

from quart import Blueprint, g, request

from webapp.core.csvio import csv_response
from webapp.core.htmx import is_htmx, render
from webapp.core.pagination import parse_limit
from webapp.core.permissions import Perm, requires
from webapp.core.transaction import db_session
from webapp.usage import credits, overages, queries, report
from webapp.usage.charts import usage_chart

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


@bp.get("/o/<org_slug>/usage")
@requires(Perm.BILLING_READ)
async def usage_page():
    """The billing period's usage per metric: columns by day against the included line, the forecast and overage."""
    which = "previous" if request.args.get("period") == "previous" else "current"
    session = db_session()
    found = await report.usage_report(session, g.ctx.org_id, which)
    charts = {m.code: usage_chart(m) for m in found.metrics}
    fees = await overages.list_fees(session, g.ctx.org_id, limit=24)
    names = {m.code: m.name for m in found.metrics}
    return await render("usage/usage.html", report=found, charts=charts, which=which, fees=fees, names=names)


@bp.get("/o/<org_slug>/usage.csv")
@requires(Perm.BILLING_READ)
async def export_csv():
    """The period's usage as CSV: one row per metric and UTC day, with what the plan includes."""
    which = "previous" if request.args.get("period") == "previous" else "current"
    found = await report.usage_report(db_session(), g.ctx.org_id, which)
    rows = [
        (day.isoformat(), m.code, m.name, m.unit, value, "" if m.included is None else m.included)
        for m in found.metrics
        for day, value in m.daily
    ]
    name = f"usage-{g.ctx.org_slug}-{found.period_start.date().isoformat()}.csv"
    return csv_response(name, ["date", "metric", "name", "unit", "value", "included_in_period"], rows)
