"""Audit pages: the organization's log for its admins and every organization's for staff (filters, cursor paging,
what each row changed, streaming CSV / JSON Lines export), and the checkpoints' public key."""

from __future__ import annotations

from datetime import UTC, datetime

from quart import Blueprint, Response, current_app, g, redirect, request, url_for
from sqlalchemy import select

from webapp.audit import export, integrity, offline, queries
from webapp.audit.checkpoints import public_pem
from webapp.audit.models import AuditArchive
from webapp.core import audit
from webapp.core.errors import NotFound
from webapp.core.htmx import is_htmx, render
from webapp.core.listing import lists
from webapp.core.pagination import parse_limit
from webapp.core.permissions import Perm, public, requires, staff_only
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import after_commit, db_session

bp = Blueprint("audit", __name__)


@bp.get("/audit/public-key")
@public
async def public_key():
    """The Ed25519 public key (PEM) the daily audit checkpoints are signed with."""
    seed = current_app.extensions["closedloop"]["settings"].audit_signing_seed()
    if seed is None:
        raise NotFound("Audit checkpoints are not signed on this installation.")
    return Response(public_pem(seed), content_type="application/x-pem-file; charset=utf-8")


@bp.get("/audit/verify_audit_export.py")
@public
async def offline_verifier():
    """The stand-alone script that verifies a downloaded export and its checkpoints offline (docs/audit.md)."""
    answer = Response(offline.source(), content_type="text/x-python; charset=utf-8")
    answer.headers["Content-Disposition"] = 'attachment; filename="verify_audit_export.py"'
    return answer


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


@org_bp.get("/audit/checkpoints.json")
@requires(Perm.AUDIT_READ)
async def org_checkpoints():
    """The organization's signed checkpoints, anchor and public key: with a JSON Lines export, enough to verify its
    chain offline (docs/audit.md)."""
    seed = current_app.extensions["closedloop"]["settings"].audit_signing_seed()
    bundle = await offline.checkpoint_bundle(db_session(), g.ctx.org_id, seed)
    answer = Response(offline.dumps(bundle), content_type="application/json")
    answer.headers["Content-Disposition"] = f'attachment; filename="audit-checkpoints-{g.ctx.org_slug}.json"'
    return answer


@staff_bp.get("/audit/integrity")
@requires()
async def integrity_page():
    """Every chain: its head, latest signed checkpoint, archived beginning and latest verification; verify now."""
    staff_only()
    session = db_session()
    await enable_rls_bypass(session, reason="staff read the audit chains' integrity")
    chains = await integrity.overview(session)
    archives = (await session.execute(
        select(AuditArchive).order_by(AuditArchive.range_start.desc()).limit(36)
    )).scalars().all()  # fmt: skip
    pending = await integrity.pending(session)
    template = "audit/_integrity.html" if is_htmx() else "audit/integrity.html"
    return await render(template, chains=chains, archives=archives, pending=pending, broken=sum(
        1 for c in chains if c.last is not None and c.last.status == "broken"))  # fmt: skip


@staff_bp.post("/audit/integrity")
@requires()
async def request_verification():
    """Queue verification of one chain (form field `chain`) or of all of them (`chain=all`)."""
    from webapp.audit.tasks import enqueue_verifications

    staff_only()
    session = db_session()
    await enable_rls_bypass(session, reason="staff verify the audit chains")
    form = await request.form
    every = await integrity.every_chain(session)
    raw = (form.get("chain") or "").strip()
    chains = every if raw == "all" else [c for c in every if str(c) == raw]
    if not chains:
        raise NotFound("No such audit chain.")
    runs = await integrity.request(session, g.ctx, chains)
    after_commit(session, lambda: enqueue_verifications(runs))
    if is_htmx():
        return await integrity_page()
    return redirect(url_for("staff_audit.integrity_page"), 303)


@staff_bp.get("/audit/archives/<uuid:archive_id>")
@requires()
async def download_archive(archive_id):
    """A retired month's archive (gzip JSON Lines), through a short-lived store URL."""
    from webapp.collaboration.storage import store_for

    staff_only()
    session = db_session()
    await enable_rls_bypass(session, reason="staff download an audit archive")
    archive = await session.get(AuditArchive, archive_id)
    if archive is None:
        raise NotFound("No such archive.")
    await audit.record(session, g.ctx, "audit.archive_downloaded", entity_type="audit_archive", entity_id=archive.id,
                       organization_id=None)  # fmt: skip
    store = store_for(current_app.extensions["closedloop"]["settings"])
    return redirect(store.download_url(archive.object_key, filename=f"{archive.partition}.jsonl.gz",
                                       content_type="application/gzip", inline=False, seconds=300), 303)  # fmt: skip
