"""Platform staff: list every organization and change its status (suspend, reinstate, archive)."""

from __future__ import annotations

import uuid

from quart import Blueprint, flash, g, redirect, request, url_for

from webapp.core import audit
from webapp.core.errors import NotFound, ValidationError
from webapp.core.forms import read_form
from webapp.core.htmx import render
from webapp.core.permissions import requires
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import db_session
from webapp.organizations import queries, service
from webapp.organizations.enums import OrgStatus
from webapp.organizations.forms import PlatformStatusForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


def staff_only() -> None:
    """Platform admins only; everyone else sees no such page (404, not 403)."""
    if not g.ctx.is_platform_admin or g.ctx.api_key_id is not None:
        raise NotFound()


async def list_every_organization(*, status: str | None, q: str | None, include_deleted: bool = False):
    """All organizations through the RLS bypass, with an audit row saying who looked and why."""
    if status and status not in {s.value for s in OrgStatus}:
        raise ValidationError.field("status", "Choose active, suspended or archived.")
    session = db_session()
    await enable_rls_bypass(session, reason="platform admin lists organizations")
    rows = await queries.list_all_organizations(session, status=status, q=q, include_deleted=include_deleted)
    await audit.record(
        session,
        g.ctx,
        "platform.organizations_listed",
        entity_type="organization",
        entity_id=None,
        metadata={"status": status, "q": q, "rows": len(rows), "rls_bypass": True},
        organization_id=None,
    )
    return rows


@bp.get("/organizations")
@requires()
async def organizations():
    """Every organization with its members and status; filter by status or search by name."""
    staff_only()
    status, q = request.args.get("status") or None, (request.args.get("q") or "").strip() or None
    rows = await list_every_organization(status=status, q=q, include_deleted=request.args.get("deleted") == "1")
    return await render(
        "admin/organizations.html",
        rows=rows,
        status=status,
        q=q or "",
        statuses=list(OrgStatus),
        form=PlatformStatusForm(),
    )


@bp.post("/organizations/<uuid:target_id>/status")
@requires()
async def set_status(target_id: uuid.UUID):
    """Suspend, reinstate or archive an organization, with a reason the audit log keeps."""
    staff_only()
    form = await read_form(PlatformStatusForm)
    if not form.validate():
        raise ValidationError(details={"fields": {k: list(v) for k, v in form.errors.items()}})
    org = await service.set_status_as_platform(
        db_session(), g.ctx, target_id, status=form.status.data, reason=form.reason.data
    )
    await flash(f"{org.name} is now {org.status.value}.", "success")
    return redirect(url_for("admin.organizations"), 303)
