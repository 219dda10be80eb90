"""Security incidents: report one, move it through its workflow (open → investigating → contained → resolved →
closed, or false_positive), assign it, note on it, flag a personal-data breach (the 72-hour clock). Every change is
a timeline row and an audit row; an illegal transition is a 409. Staff only: callers open the audited bypass."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core import audit
from webapp.core.errors import Conflict, NotFound, ValidationError
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext
from webapp.identity.models import User
from webapp.organizations.models import Organization
from webapp.security.enums import IncidentSeverity, IncidentStatus
from webapp.security.models import (
    IncidentActivity,
    IncidentEvent,
    IncidentOrganization,
    SecurityEvent,
    SecurityIncident,
)

S = IncidentStatus
# where each state may go next; resolved and false_positive may be reopened, closed is final
TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    S.OPEN: frozenset({S.INVESTIGATING, S.FALSE_POSITIVE}),
    S.INVESTIGATING: frozenset({S.CONTAINED, S.RESOLVED, S.FALSE_POSITIVE}),
    S.CONTAINED: frozenset({S.RESOLVED, S.INVESTIGATING}),
    S.RESOLVED: frozenset({S.CLOSED, S.INVESTIGATING}),
    S.FALSE_POSITIVE: frozenset({S.CLOSED, S.INVESTIGATING}),
    S.CLOSED: frozenset(),
}
NEEDS_NOTE = {S.FALSE_POSITIVE: "Say why this is a false positive.", S.CLOSED: "Write the post-incident review."}
BREACH_NOTIFICATION = timedelta(hours=72)  # GDPR Art. 33(1)
MAX_NOTE = 10_000


@dataclass(frozen=True)
class Clock:
    """An incident's derived times: to acknowledge, to contain, to resolve, and the breach deadline."""

    time_to_acknowledge: timedelta | None
    time_to_contain: timedelta | None
    time_to_resolve: timedelta | None
    notify_by: datetime | None
    notify_overdue: bool


def clock(incident: SecurityIncident, now: datetime | None = None) -> Clock:
    """Durations measured from detected_at (when it happened), and the 72-hour deadline once flagged a breach."""
    now = now or datetime.now(UTC)

    def since(moment):
        return None if moment is None else moment - incident.detected_at

    notify_by = incident.breach_flagged_at + BREACH_NOTIFICATION if incident.breach_flagged_at else None
    overdue = bool(notify_by and incident.authority_notified_at is None and now > notify_by)
    return Clock(
        since(incident.acknowledged_at), since(incident.contained_at), since(incident.resolved_at), notify_by, overdue
    )


def allowed_next(status: IncidentStatus) -> list[IncidentStatus]:
    """The states this one may move to, in workflow order."""
    return [s for s in IncidentStatus if s in TRANSITIONS[status]]


async def get_incident(session: AsyncSession, incident_id: uuid.UUID, *, lock: bool = False) -> SecurityIncident:
    """One incident (404 when there is none)."""
    stmt = select(SecurityIncident).where(SecurityIncident.id == incident_id)
    incident = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if incident is None:
        raise NotFound("No such incident.")
    return incident


async def _activity(session, incident_id, actor_id, kind, body="", *, before=None, after=None) -> None:
    await session.execute(
        insert(IncidentActivity).values(
            id=new_id(), incident_id=incident_id, actor_id=actor_id, kind=kind, body=body,
            from_status=before, to_status=after, at=datetime.now(UTC),
        )
    )  # fmt: skip


async def _staff_member(session: AsyncSession, user_id: uuid.UUID | None) -> uuid.UUID | None:
    if user_id is None:
        return None
    found = await session.scalar(select(User.id).where(User.id == user_id, User.is_platform_admin.is_(True)))
    if found is None:
        raise ValidationError.field("assigned_to", "Assign the incident to a staff member.")
    return found


async def link_organizations(session: AsyncSession, incident_id: uuid.UUID, organization_ids) -> None:
    """Mark the organizations an incident touches (unknown ids are refused, repeats ignored)."""
    wanted = {uuid.UUID(str(o)) for o in organization_ids if o}
    if not wanted:
        return
    known = set((await session.execute(select(Organization.id).where(Organization.id.in_(wanted)))).scalars())
    if wanted - known:
        raise ValidationError.field("organization_ids", "Some of these organizations do not exist.")
    await session.execute(
        pg_insert(IncidentOrganization)
        .values([{"incident_id": incident_id, "organization_id": o} for o in sorted(known)])
        .on_conflict_do_nothing()
    )


async def link_events(session: AsyncSession, incident_id: uuid.UUID, event_ids) -> int:
    """Attach security events (and their organizations); returns how many were new to the incident."""
    wanted = {uuid.UUID(str(e)) for e in event_ids if e}
    if not wanted:
        return 0
    rows = (
        await session.execute(
            select(SecurityEvent.id, SecurityEvent.created_at, SecurityEvent.organization_id).where(
                SecurityEvent.id.in_(wanted)
            )
        )
    ).all()
    if len(rows) != len(wanted):
        raise ValidationError.field("event_ids", "Some of these security events do not exist.")
    added = await session.execute(
        pg_insert(IncidentEvent)
        .values([{"incident_id": incident_id, "event_id": r.id, "event_created_at": r.created_at} for r in rows])
        .on_conflict_do_nothing()
        .returning(IncidentEvent.event_id)
    )
    await link_organizations(session, incident_id, {r.organization_id for r in rows if r.organization_id})
    return len(added.all())


async def report(
    session: AsyncSession,
    ctx: RequestContext | None,
    *,
    title: str,
    severity: IncidentSeverity,
    detected_at: datetime | None = None,
    summary: str = "",
    assigned_to: uuid.UUID | None = None,
    organization_ids=(),
    event_ids=(),
    personal_data_breach: bool = False,
    rule: str | None = None,
    dedupe_key: str | None = None,
) -> SecurityIncident:
    """Open an incident (a person reports it, or a rule does: ctx None); detected_at defaults to now."""
    now = datetime.now(UTC)
    title = (title or "").strip()
    if not 3 <= len(title) <= 200:
        raise ValidationError.field("title", "Give the incident a title of 3–200 characters.")
    detected_at = detected_at or now
    if detected_at > now + timedelta(minutes=5):
        raise ValidationError.field("detected_at", "An incident cannot be detected in the future.")
    incident = SecurityIncident(
        id=new_id(), title=title, summary=(summary or "").strip()[:MAX_NOTE], severity=severity,
        detected_at=detected_at,
        reported_by=ctx.user_id if ctx else None, assigned_to=await _staff_member(session, assigned_to), rule=rule,
        dedupe_key=dedupe_key, personal_data_breach=personal_data_breach,
        breach_flagged_at=now if personal_data_breach else None, status=IncidentStatus.OPEN,
    )  # fmt: skip
    session.add(incident)
    await session.flush()
    await _activity(session, incident.id, ctx.user_id if ctx else None, "opened", summary[:MAX_NOTE] if summary else "",
                    after=IncidentStatus.OPEN)  # fmt: skip
    await link_organizations(session, incident.id, organization_ids)
    await link_events(session, incident.id, event_ids)
    await audit.record(
        session, ctx, "security_incident.open", entity_type="security_incident", entity_id=incident.id,
        after={"title": title, "severity": severity, "rule": rule, "personal_data_breach": personal_data_breach},
        organization_id=None,
    )  # fmt: skip
    return incident


async def change(
    session: AsyncSession,
    ctx: RequestContext,
    incident_id: uuid.UUID,
    *,
    version: int | None = None,
    status: IncidentStatus | None = None,
    note: str | None = None,
    severity: IncidentSeverity | None = None,
    assigned_to: uuid.UUID | None | object = ...,
    personal_data_breach: bool | None = None,
    authority_notified: bool | None = None,
    organization_ids=(),
    event_ids=(),
) -> SecurityIncident:
    """Apply one PATCH: a transition (409 when the workflow does not allow it), severity, assignee (None to
    unassign), breach flag, authority notified, links, and a note; each a timeline row."""
    incident = await get_incident(session, incident_id, lock=True)
    if version is not None and version != incident.version:
        raise Conflict("Someone else changed this incident first.", {"current": {"version": incident.version}})
    now, actor = datetime.now(UTC), ctx.user_id
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationError.field("note", f"Keep a note under {MAX_NOTE} characters.")
    before = {"status": incident.status, "severity": incident.severity, "assigned_to": incident.assigned_to}
    if status is not None and status != incident.status:
        if status not in TRANSITIONS[incident.status]:
            allowed = ", ".join(allowed_next(incident.status)) or "nothing (it is closed)"
            raise Conflict(
                f"An incident that is {incident.status.replace('_', ' ')} cannot become "
                f"{status.replace('_', ' ')}; it can become {allowed}.",
                {"status": incident.status, "allowed": [str(s) for s in allowed_next(incident.status)]},
            )
        if status in NEEDS_NOTE and not note:
            raise ValidationError.field("note", NEEDS_NOTE[status])
        _stamp(incident, status, now)
        await _activity(session, incident.id, actor, "transition", note, before=incident.status, after=status)
        incident.status, note = status, ""  # the note travelled with the transition
    if severity is not None and severity != incident.severity:
        await _activity(session, incident.id, actor, "severity", f"{incident.severity.upper()} → {severity.upper()}")
        incident.severity = severity
    if assigned_to is not ... and assigned_to != incident.assigned_to:
        incident.assigned_to = await _staff_member(session, assigned_to)
        await _activity(session, incident.id, actor, "assigned", str(assigned_to or ""))
    if personal_data_breach is not None and personal_data_breach != incident.personal_data_breach:
        incident.personal_data_breach = personal_data_breach
        incident.breach_flagged_at = now if personal_data_breach else None
        if not personal_data_breach:
            incident.authority_notified_at = None
        await _activity(session, incident.id, actor, "breach", "flagged" if personal_data_breach else "unflagged")
    if authority_notified and incident.authority_notified_at is None:
        if not incident.personal_data_breach:
            raise ValidationError.field("authority_notified", "Only a personal-data breach is notified.")
        incident.authority_notified_at = now
        await _activity(session, incident.id, actor, "breach", "supervisory authority notified")
    added = await link_events(session, incident.id, event_ids)
    if added:
        await _activity(session, incident.id, actor, "linked", f"{added} security event(s)")
    await link_organizations(session, incident.id, organization_ids)
    if note:
        await _activity(session, incident.id, actor, "note", note)
    incident.updated_at = now
    await session.flush()
    after = {"status": incident.status, "severity": incident.severity, "assigned_to": incident.assigned_to}
    await audit.record(
        session, ctx, "security_incident.update", entity_type="security_incident", entity_id=incident.id,
        before=before, after=after, organization_id=None,
    )  # fmt: skip
    return incident


def _stamp(incident: SecurityIncident, status: IncidentStatus, now: datetime) -> None:
    """The first time an incident reaches each milestone (reopening keeps the first times)."""
    if incident.acknowledged_at is None:
        incident.acknowledged_at = now
    if status == S.CONTAINED and incident.contained_at is None:
        incident.contained_at = now
    if status in (S.RESOLVED, S.FALSE_POSITIVE):
        incident.resolved_at = now
    if status == S.INVESTIGATING:  # reopened: no longer resolved
        incident.resolved_at = None
    if status == S.CLOSED:
        incident.closed_at = now


async def note_rule(session: AsyncSession, incident_id: uuid.UUID, body: str) -> None:
    """A rule adds to a live incident's timeline (more events of the burst joined it)."""
    await _activity(session, incident_id, None, "linked", body)
