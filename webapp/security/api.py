"""The security API: events (staff: every one; an organization's admins: theirs) and incidents (staff)."""

from __future__ import annotations

import uuid

from quart import Blueprint, g, request, url_for
from quart_schema import document_request

from webapp.core.forms import parse_body
from webapp.core.listing import lists
from webapp.core.openapi import Page, raises, returns
from webapp.core.pagination import parse_limit
from webapp.core.permissions import Perm, requires, staff_only
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import db_session
from webapp.security import incidents, queries
from webapp.security.schemas import IncidentIn, IncidentOut, IncidentPatch, SecurityEventOut

bp = Blueprint("security_api", __name__, url_prefix="/api/v1/security")
org_bp = Blueprint("org_security_api", __name__, url_prefix="/api/v1/organizations/<org:org_id>/security")
EVENT_FILTERS = ("event_type", "severity", "user_id", "ip", "since", "until")
INCIDENT_FILTERS = ("status", "active", "severity", "assigned_to", "rule", "breach", "organization_id")


def event_out(row) -> dict:
    """A security event row -> JSON."""
    return SecurityEventOut(
        id=row.id, created_at=row.created_at, organization_id=row.organization_id, user_id=row.user_id,
        user_email=row.user_email, event_type=row.event_type, severity=row.severity,
        ip=None if row.ip is None else str(row.ip), user_agent=row.user_agent, request_id=row.request_id,
        metadata=row.metadata or {},
    ).model_dump(mode="json")  # fmt: skip


def _seconds(delta) -> int | None:
    return None if delta is None else int(delta.total_seconds())


def incident_out(incident, *, event_count: int = 0, organizations=None, timeline=None) -> dict:
    """An incident (and, for one incident, its organizations and timeline) -> JSON."""
    times = incidents.clock(incident)
    return IncidentOut(
        id=incident.id, title=incident.title, summary=incident.summary, severity=incident.severity,
        status=incident.status, allowed_next=incidents.allowed_next(incident.status), rule=incident.rule,
        detected_at=incident.detected_at, created_at=incident.created_at, updated_at=incident.updated_at,
        reported_by=incident.reported_by, assigned_to=incident.assigned_to, acknowledged_at=incident.acknowledged_at,
        contained_at=incident.contained_at, resolved_at=incident.resolved_at, closed_at=incident.closed_at,
        time_to_acknowledge_seconds=_seconds(times.time_to_acknowledge),
        time_to_resolve_seconds=_seconds(times.time_to_resolve), personal_data_breach=incident.personal_data_breach,
        breach_flagged_at=incident.breach_flagged_at, notify_authority_by=times.notify_by,
        authority_notified_at=incident.authority_notified_at, event_count=event_count,
        organization_ids=None if organizations is None else [o.id for o in organizations],
        timeline=None if timeline is None else [
            {"at": a.at, "actor_id": a.actor_id, "actor_name": name, "kind": a.kind, "from_status": a.from_status,
             "to_status": a.to_status, "body": a.body} for a, name in timeline
        ],
        version=incident.version,
    ).model_dump(mode="json", exclude_none=False)  # fmt: skip


async def _events_page(listing, scope: dict, extra=()) -> dict:
    filters = {name: request.args.get(name) for name in (*EVENT_FILTERS, *extra)}
    page = await listing.page(
        db_session(), scope, sort=request.args.get("sort"), filters=filters,
        cursor=request.args.get("cursor") or None, limit=parse_limit(request.args.get("limit"), 50),
    )  # fmt: skip
    return {"items": [event_out(r) for r in page.items], "next_cursor": page.next_cursor}


async def _staff(reason: str):
    staff_only()
    session = db_session()
    await enable_rls_bypass(session, reason=reason)
    return session


@bp.get("/events")
@requires()
@lists(queries.STAFF_EVENTS)
@returns(Page[SecurityEventOut])
async def list_events():
    """Staff: every security event, newest first; filters `event_type`, `severity`, `user_id`, `ip`, `since`,
    `until`, `organization_id`; cursor pagination."""
    await _staff("staff read security events over the API")
    return await _events_page(queries.STAFF_EVENTS, {}, extra=("organization_id",))


@org_bp.get("/events")
@requires(Perm.SECURITY_READ)
@lists(queries.ORG_EVENTS)
@returns(Page[SecurityEventOut])
async def list_org_events(org_id: uuid.UUID | str):
    """The organization's security events (sign-ins into it, keys, break-glass, support access), newest first,
    with the same filters."""
    return await _events_page(queries.ORG_EVENTS, {"org_id": g.ctx.org_id})


@bp.get("/incidents")
@requires()
@lists(queries.INCIDENTS)
@returns(Page[IncidentOut])
async def list_incidents():
    """Staff: incidents, most recently detected first; filters `status`, `active`, `severity`, `assigned_to`,
    `rule`, `breach`, `organization_id`; cursor pagination."""
    session = await _staff("staff read security incidents")
    filters = {name: request.args.get(name) for name in INCIDENT_FILTERS}
    page = await queries.INCIDENTS.page(
        session, {}, sort=request.args.get("sort"), filters=filters, cursor=request.args.get("cursor") or None,
        limit=parse_limit(request.args.get("limit"), 50),
    )  # fmt: skip
    return {
        "items": [incident_out(row, event_count=row.event_count) for row in page.items],
        "next_cursor": page.next_cursor,
    }


@bp.post("/incidents")
@requires()
@document_request(IncidentIn)
@returns(IncidentOut, 201, creates="security_api.get_incident")
async def create_incident():
    """Staff: report an incident by hand (`detected_at` when it happened, default now); 201 + Location."""
    session = await _staff("staff report a security incident")
    data = await parse_body(IncidentIn)
    incident = await incidents.report(
        session, g.ctx, title=data.title, severity=data.severity, summary=data.summary, detected_at=data.detected_at,
        assigned_to=data.assigned_to, organization_ids=data.organization_ids, event_ids=data.event_ids,
        personal_data_breach=data.personal_data_breach,
    )  # fmt: skip
    location = url_for("security_api.get_incident", incident_id=incident.id)
    return await _one(session, incident), 201, {"Location": location}


async def _one(session, incident) -> dict:
    events = await queries.linked_events(session, incident.id, limit=100_000)
    return incident_out(
        incident, event_count=len(events), organizations=await queries.linked_organizations(session, incident.id),
        timeline=await queries.timeline(session, incident.id),
    )  # fmt: skip


@bp.get("/incidents/<uuid:incident_id>")
@requires()
@returns(IncidentOut)
async def get_incident(incident_id: uuid.UUID):
    """Staff: one incident with its organizations and timeline."""
    session = await _staff("staff read a security incident")
    return await _one(session, await incidents.get_incident(session, incident_id))


@bp.patch("/incidents/<uuid:incident_id>")
@requires()
@document_request(IncidentPatch)
@returns(IncidentOut)
@raises(409)
async def update_incident(incident_id: uuid.UUID):
    """Staff: move an incident along its workflow (409 for a transition it does not allow, or a stale `version`),
    change severity or assignee, flag a personal-data breach, record the authority's notification, link events
    and organizations, add a note."""
    session = await _staff("staff change a security incident")
    data = await parse_body(IncidentPatch)
    incident = await incidents.change(
        session, g.ctx, incident_id, version=data.version, status=data.status, note=data.note,
        severity=data.severity,
        assigned_to=data.assigned_to if "assigned_to" in data.model_fields_set else ...,
        personal_data_breach=data.personal_data_breach, authority_notified=data.authority_notified,
        organization_ids=data.organization_ids, event_ids=data.event_ids,
    )  # fmt: skip
    return await _one(session, incident)
