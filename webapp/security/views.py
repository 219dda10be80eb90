"""Staff security pages: incidents (list with filters, report one, one incident with its clocks, workflow buttons,
assignee, severity, breach flag, timeline, events and organizations) and every security event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from quart import Blueprint, flash, g, redirect, request, url_for

from webapp.core.errors import DomainError
from webapp.core.htmx import render
from webapp.core.listing import lists
from webapp.core.pagination import parse_limit
from webapp.core.permissions import requires, staff_only
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import db_session
from webapp.security import incidents, queries
from webapp.security.enums import IncidentSeverity, IncidentStatus, SecurityEventType
from webapp.security.rules import RULES

bp = Blueprint("security_staff", __name__, url_prefix="/admin/security")
INCIDENT_FILTERS = ("status", "active", "severity", "assigned_to", "rule", "breach", "organization_id")
EVENT_FILTERS = (*queries.EVENT_FILTERS, "organization_id")


async def _staff_session(reason: str):
    staff_only()
    session = db_session()
    await enable_rls_bypass(session, reason=reason)
    return session


def _args(names) -> dict:
    return {name: request.args.get(name, "").strip()[:200] for name in names}


@bp.get("/incidents")
@requires()
@lists(queries.INCIDENTS)
async def incidents_page():
    """Incidents, most recently detected first, with filters and the form to report one."""
    return await _list_page(await _staff_session("staff read security incidents"))


async def _list_page(session, *, status: int = 200, error: str | None = None, values: dict | None = None):
    filters = _args(INCIDENT_FILTERS)
    page = await queries.INCIDENTS.page(
        session, {}, sort=request.args.get("sort") or None, filters=filters,
        cursor=request.args.get("cursor") or None, limit=parse_limit(request.args.get("limit"), 50),
    )  # fmt: skip
    return await render(
        "security/incidents.html", page=page, filters=filters, statuses=list(IncidentStatus),
        severities=list(IncidentSeverity), rules=RULES, clock=incidents.clock, error=error, values=values or {},
        status=status, now=datetime.now(UTC),
    )  # fmt: skip


@bp.post("/incidents")
@requires()
async def report():
    """Report an incident by hand."""
    session = await _staff_session("staff report a security incident")
    form = await request.form
    values = {k: form.get(k, "") for k in ("title", "severity", "summary", "detected_at", "personal_data_breach")}
    try:
        detected = datetime.fromisoformat(values["detected_at"]).replace(tzinfo=UTC) if values["detected_at"] else None
        incident = await incidents.report(
            session, g.ctx, title=values["title"], severity=IncidentSeverity(values["severity"] or "sev3"),
            summary=values["summary"], detected_at=detected,
            personal_data_breach=values["personal_data_breach"] == "on",
        )  # fmt: skip
    except (DomainError, ValueError) as exc:
        message = exc.message if isinstance(exc, DomainError) else "Check the severity and the time it happened."
        return await _list_page(session, status=422, error=message, values=values)
    await flash("Incident opened.", "success")
    return redirect(url_for("security_staff.incident", incident_id=incident.id), 303)


async def _detail(session, incident, *, status: int = 200, error: str | None = None):
    return await render(
        "security/incident.html", incident=incident, times=incidents.clock(incident),
        allowed=incidents.allowed_next(incident.status), timeline=await queries.timeline(session, incident.id),
        events=await queries.linked_events(session, incident.id), severities=list(IncidentSeverity),
        organizations=await queries.linked_organizations(session, incident.id),
        staff=await queries.staff_members(session), needs_note=incidents.NEEDS_NOTE, error=error, status=status,
    )  # fmt: skip


@bp.get("/incidents/<uuid:incident_id>")
@requires()
async def incident(incident_id: uuid.UUID):
    """One incident: where it stands, its clocks, what can happen next, and everything that happened."""
    session = await _staff_session("staff read a security incident")
    return await _detail(session, await incidents.get_incident(session, incident_id))


@bp.post("/incidents/<uuid:incident_id>")
@requires()
async def change(incident_id: uuid.UUID):
    """Apply one of the page's forms: a transition (with its note), a note, assignee, severity, breach flag."""
    session = await _staff_session("staff change a security incident")
    form = await request.form
    change = {}
    if form.get("status"):
        change["status"] = form["status"]
    if "assigned_to" in form:
        change["assigned_to"] = uuid.UUID(form["assigned_to"]) if form["assigned_to"] else None
    if form.get("severity"):
        change["severity"] = form["severity"]
    if form.get("breach") in ("on", "off"):
        change["personal_data_breach"] = form["breach"] == "on"
    if form.get("authority_notified") == "on":
        change["authority_notified"] = True
    try:
        if "status" in change:
            change["status"] = IncidentStatus(change["status"])
        if "severity" in change:
            change["severity"] = IncidentSeverity(change["severity"])
        changed = await incidents.change(
            session, g.ctx, incident_id, note=form.get("note", ""), version=int(form.get("version") or 0) or None,
            **change,
        )  # fmt: skip
    except ValueError:
        return await _detail(session, await incidents.get_incident(session, incident_id), status=422,
                             error="That is not a state, severity or person this incident knows.")  # fmt: skip
    except DomainError as exc:
        return await _detail(session, await incidents.get_incident(session, incident_id), status=exc.status_code,
                             error=exc.message)  # fmt: skip
    await flash("Incident updated.", "success")
    return redirect(url_for("security_staff.incident", incident_id=changed.id), 303)


@bp.get("/events")
@requires()
@lists(queries.STAFF_EVENTS)
async def events():
    """Every security event, newest first, filtered by kind, severity, person, address, time and organization."""
    session = await _staff_session("staff read security events")
    filters = _args(EVENT_FILTERS)
    page = await queries.STAFF_EVENTS.page(
        session, {}, sort=request.args.get("sort") or None, filters=filters,
        cursor=request.args.get("cursor") or None, limit=parse_limit(request.args.get("limit"), 50),
    )  # fmt: skip
    return await render("security/events.html", page=page, filters=filters,
                        event_types=[str(t) for t in SecurityEventType])  # fmt: skip
