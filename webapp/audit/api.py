"""The audit log over JSON: an organization's rows (its admins, audit:read) and every organization's (staff), with
the viewer's filters and cursor pagination."""

from __future__ import annotations

import uuid

from quart import Blueprint, current_app, g, request

from webapp.audit import offline, queries
from webapp.audit.schemas import AuditRowOut, CheckpointBundleOut
from webapp.core.listing import lists
from webapp.core.openapi import Page, returns
from webapp.core.pagination import parse_limit
from webapp.core.permissions import Perm, requires, staff_only
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import db_session

org_bp = Blueprint("org_audit_api", __name__, url_prefix="/api/v1/organizations/<org:org_id>/audit-logs")
bp = Blueprint("audit_api", __name__, url_prefix="/api/v1/audit")
NAMES = ("entity_type", "entity_id", "actor_id", "impersonator_id", "action", "since", "until", "ip")


def _row(row) -> dict:
    record = queries.export_record(row)
    return AuditRowOut.model_validate(record).model_dump(mode="json")


async def _page(listing, scope: dict, extra=()) -> dict:
    filters = {name: request.args.get(name) for name in (*NAMES, *extra)}
    page = await listing.page(
        db_session(), scope, sort=request.args.get("sort"), filters=filters,
        cursor=request.args.get("cursor") or None, limit=parse_limit(request.args.get("limit"), 50),
    )  # fmt: skip
    return {"items": [_row(r) for r in page.items], "next_cursor": page.next_cursor}


@org_bp.get("")
@requires(Perm.AUDIT_READ)
@lists(queries.ORG_AUDIT)
@returns(Page[AuditRowOut])
async def list_org_logs(org_id: uuid.UUID | str):
    """The organization's audit rows, newest first: filters `entity_type`, `entity_id`, `actor_id`,
    `impersonator_id`, `action` (prefix), `since` / `until` (ISO 8601), `ip`; cursor pagination."""
    return await _page(queries.ORG_AUDIT, {"org_id": g.ctx.org_id})


@org_bp.get("/checkpoints")
@requires(Perm.AUDIT_READ)
@returns(CheckpointBundleOut)
async def org_checkpoints(org_id: uuid.UUID | str):
    """The organization's signed checkpoints, its chain's anchor and the public key: with a JSON Lines export, what
    the offline verifier (/audit/verify_audit_export.py) needs."""
    seed = current_app.extensions["closedloop"]["settings"].audit_signing_seed()
    return await offline.checkpoint_bundle(db_session(), g.ctx.org_id, seed)


@bp.get("/logs")
@requires()
@lists(queries.STAFF_AUDIT)
@returns(Page[AuditRowOut])
async def list_all_logs():
    """Staff: every organization's audit rows and the platform's, with the same filters plus `organization_id` and
    `platform=true` (rows that belong to no organization)."""
    staff_only()
    await enable_rls_bypass(db_session(), reason="staff read the audit log over the API")
    return await _page(queries.STAFF_AUDIT, {}, extra=("organization_id", "platform"))
