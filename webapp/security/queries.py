"""Reading security events (an organization's for its admins, every one for staff) and incidents (staff), with
filters and cursor pagination, and one incident with its timeline, events and organizations."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from webapp.audit.queries import _address, _moment
from webapp.core.listing import Filter, Listing, by_id, choice
from webapp.identity.models import User
from webapp.organizations.models import Organization
from webapp.security.enums import IncidentSeverity, IncidentStatus, SecurityEventType, Severity
from webapp.security.models import (
    IncidentActivity,
    IncidentEvent,
    IncidentOrganization,
    SecurityEvent,
    SecurityIncident,
)

EVENT_COLUMNS = (
    SecurityEvent.id, SecurityEvent.created_at, SecurityEvent.organization_id, SecurityEvent.user_id,
    User.email.label("user_email"), SecurityEvent.event_type, SecurityEvent.severity, SecurityEvent.ip,
    SecurityEvent.user_agent, SecurityEvent.request_id, SecurityEvent.metadata_.label("metadata"),
)  # fmt: skip
EVENT_FILTERS = {
    "event_type": choice(SecurityEventType, lambda p: SecurityEvent.event_type == p, "One kind of event"),
    "severity": choice(Severity, lambda p: SecurityEvent.severity == p, "One severity"),
    "user_id": by_id(lambda p: SecurityEvent.user_id == p, "Events about this user"),
    "ip": Filter(lambda p: SecurityEvent.ip == cast(p, INET), prepare=_address, description="From this address"),
    "since": Filter(lambda p: SecurityEvent.created_at >= p, prepare=_moment, description="From this time (ISO 8601)"),
    "until": Filter(lambda p: SecurityEvent.created_at < p, prepare=_moment, description="Before this time (ISO 8601)"),
}  # fmt: skip
_EVENTS = select(*EVENT_COLUMNS).outerjoin(User, User.id == SecurityEvent.user_id)
ORG_EVENTS = Listing(
    _EVENTS.where(SecurityEvent.organization_id == bindparam("org_id")),
    id_column=SecurityEvent.id,
    sorts={"created_at": SecurityEvent.created_at},
    filters=EVENT_FILTERS,
    default_sort="created_at:desc",
)
STAFF_EVENTS = Listing(
    _EVENTS.add_columns(Organization.slug.label("org_slug")).outerjoin(
        Organization, Organization.id == SecurityEvent.organization_id
    ),
    id_column=SecurityEvent.id,
    sorts={"created_at": SecurityEvent.created_at},
    filters=EVENT_FILTERS | {
        "organization_id": by_id(lambda p: SecurityEvent.organization_id == p, "One organization's events"),
    },
    default_sort="created_at:desc",
)  # fmt: skip

Assignee = aliased(User, name="assignee")
_linked = (
    select(func.count()).select_from(IncidentEvent).where(IncidentEvent.incident_id == SecurityIncident.id)
).scalar_subquery()
INCIDENTS = Listing(
    select(*SecurityIncident.__table__.c, Assignee.name.label("assignee_name"), _linked.label("event_count")).outerjoin(
        Assignee, Assignee.id == SecurityIncident.assigned_to
    ),
    id_column=SecurityIncident.id,
    sorts={"detected_at": SecurityIncident.detected_at, "created_at": SecurityIncident.created_at},
    filters={
        "status": choice(IncidentStatus, lambda p: SecurityIncident.status == p, "One state of the workflow"),
        "active": Filter(lambda p: SecurityIncident.status.in_(("open", "investigating", "contained")) == (p == "true"),
                         choices=("true", "false"), description="true: open, investigating or contained"),
        "severity": choice(IncidentSeverity, lambda p: SecurityIncident.severity == p, "One severity"),
        "assigned_to": by_id(lambda p: SecurityIncident.assigned_to == p, "Incidents this staff member owns"),
        "rule": Filter(lambda p: SecurityIncident.rule == p, prepare=lambda r: r.strip()[:60] or None,
                       description="Opened by this detection rule"),
        "breach": Filter(lambda p: SecurityIncident.personal_data_breach.is_(p == "true"), choices=("true", "false"),
                         description="Personal-data breaches only (true) or none (false)"),
        "organization_id": by_id(
            lambda p: SecurityIncident.id.in_(
                select(IncidentOrganization.incident_id).where(IncidentOrganization.organization_id == p)
            ), "Incidents touching this organization"),
    },
    default_sort="detected_at:desc",
)  # fmt: skip


async def timeline(session: AsyncSession, incident_id: uuid.UUID) -> list:
    """The incident's activity, oldest first, with who did each."""
    return (
        await session.execute(
            select(IncidentActivity, User.name.label("actor_name"))
            .outerjoin(User, User.id == IncidentActivity.actor_id)
            .where(IncidentActivity.incident_id == incident_id)
            .order_by(IncidentActivity.at, IncidentActivity.id)
        )
    ).all()


async def linked_events(session: AsyncSession, incident_id: uuid.UUID, limit: int = 200) -> list:
    """The security events an incident holds, oldest first (the first `limit`)."""
    return (
        await session.execute(
            select(*EVENT_COLUMNS)
            .join(IncidentEvent, (IncidentEvent.event_id == SecurityEvent.id)
                  & (IncidentEvent.event_created_at == SecurityEvent.created_at))
            .outerjoin(User, User.id == SecurityEvent.user_id)
            .where(IncidentEvent.incident_id == incident_id)
            .order_by(SecurityEvent.created_at)
            .limit(limit)
        )
    ).all()  # fmt: skip


async def linked_organizations(session: AsyncSession, incident_id: uuid.UUID) -> list:
    """The organizations an incident touches."""
    return (
        await session.execute(
            select(Organization.id, Organization.name, Organization.slug)
            .join(IncidentOrganization, IncidentOrganization.organization_id == Organization.id)
            .where(IncidentOrganization.incident_id == incident_id)
            .order_by(Organization.name)
        )
    ).all()


async def staff_members(session: AsyncSession) -> list:
    """Who an incident can be assigned to."""
    return (
        await session.execute(
            select(User.id, User.name, User.email)
            .where(User.is_platform_admin.is_(True), User.deleted_at.is_(None))
            .order_by(User.name)
        )
    ).all()
