"""Audit pages: the organization's log for its admins and every organization's for staff (filters, cursor paging,
what each row changed, streaming CSV / JSON Lines export), and the checkpoints' public key."""

from __future__ import annotations

from datetime import UTC, datetime

from quart import Blueprint, Response, current_app, g, request

from webapp.audit import export, queries
from webapp.audit.checkpoints import public_pem
from webapp.core import audit
from webapp.core.errors import NotFound
from webapp.core.htmx import is_htmx, render
from webapp.core.listing import lists
from webapp.core.pagination import parse_limit
from webapp.core.permissions import Perm, public, requires, staff_only
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import db_session

bp = Blueprint("audit", __name__)


@bp.get("/audit/public-key")
@public
async def public_key():
    """The Ed25519 public key (PEM) the daily audit checkpoints are signed with."""
    seed = current_app.extensions["closedloop"]["settings"].audit_signing_seed()
    if seed is None:
        raise NotFound("Audit checkpoints are not signed on this installation.")
    return Response(public_pem(seed), content_type="application/x-pem-file; charset=utf-8")


org_bp = Blueprint("org_audit", __name__, url_prefix="/o/<org_slug>")
staff_bp = Blueprint("staff_audit", __name__, url_prefix="/admin")
FILTER_NAMES = ("entity_type", "entity_id", "actor_id", "impersonator_id", "action", "since", "until", "ip")


def _filters(*extra: str) -> dict:
    return {name: request.args.get(name, "").strip()[:200] for name in (*FILTER_NAMES, *extra)}


async def _viewer(listing, scope: dict, *, endpoint: str, export_endpoint: str, staff: bool, extra=()):
    session = db_session()
    filters = _filters(*extra)
    page = await listing.page(
        session, scope, sort=request.args.get("sort") or None, filters=filters,
        cursor=request.args.get("cursor") or None, limit=parse_limit(request.args.get("limit"), 50),
    )  # fmt: skip
    shown = {k: v for k, v in filters.items() if v}
    context = {"page": page, "filters": shown, "endpoint": endpoint, "export_endpoint": export_endpoint,
               "staff": staff, "changes": queries.changes, "form": filters}  # fmt: skip
    if is_htmx() and request.args.get("cursor"):
        return await render("audit/_rows.html", **context)
    context["total"] = await listing.total(session, scope, filters, page)
    if is_htmx() and request.headers.get("HX-Target") == "audit-results":
        return await render("audit/_results.html", **context)
    return await render("audit/log.html", **context)


def _export(listing, scope: dict, kind: str, *, org_id, extra=()):
    stmt, params = listing.filtered(_filters(*extra))
    return export.response(
        current_app.extensions["closedloop"]["sessionmaker"], stmt, scope | params, kind=kind,
        filename=f"audit-{(g.ctx.org_slug or 'all')}-{datetime.now(UTC):%Y%m%d-%H%M%S}", org_id=org_id,
        user_id=g.ctx.user_id,
    )  # fmt: skip


@org_bp.get("/audit")
@requires(Perm.AUDIT_READ)
@lists(queries.ORG_AUDIT)
async def org_log():
    """The organization's audit log, newest first, filtered; each row opens to what it changed."""
    return await _viewer(queries.ORG_AUDIT, {"org_id": g.ctx.org_id}, endpoint="org_audit.org_log",
                         export_endpoint="org_audit.org_export", staff=False)  # fmt: skip


@org_bp.get("/audit.<any(csv, jsonl):kind>")
@requires(Perm.AUDIT_READ)
async def org_export(kind: str):
    """The filtered range as CSV or JSON Lines, streamed whatever its size."""
    return _export(queries.ORG_AUDIT, {"org_id": g.ctx.org_id}, kind, org_id=g.ctx.org_id)


@staff_bp.get("/audit")
@requires()
@lists(queries.STAFF_AUDIT)
async def staff_log():
    """Every organization's audit rows (and the platform's), for staff."""
    staff_only()
    await enable_rls_bypass(db_session(), reason="staff read the audit log")
    return await _viewer(queries.STAFF_AUDIT, {}, endpoint="staff_audit.staff_log",
                         export_endpoint="staff_audit.staff_export", staff=True,
                         extra=("organization_id", "platform"))  # fmt: skip


@staff_bp.get("/audit.<any(csv, jsonl):kind>")
@requires()
async def staff_export(kind: str):
    """Staff export of a filtered range across organizations."""
    staff_only()
    await enable_rls_bypass(db_session(), reason="staff export the audit log")
    await audit.record(db_session(), g.ctx, "audit.exported", entity_type="audit_log",
                       metadata={"filters": {k: v for k, v in _filters("organization_id", "platform").items() if v},
                                 "format": kind}, organization_id=None)  # fmt: skip
    return _export(queries.STAFF_AUDIT, {}, kind, org_id=None, extra=("organization_id", "platform"))
