"""security_events (append-only, partitioned by month like the audit log) and the incidents made of them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import Base, Timestamps, UUIDPrimaryKey, Versioned
from webapp.core.enums import pg_enum
from webapp.core.ids import new_id
from webapp.security.enums import IncidentSeverity, IncidentStatus, Severity


class SecurityEvent(Base):
    """One security-relevant event: sign-ins, lockouts, MFA, key use, session ends, break-glass."""

    __tablename__ = "security_events"
    __table_args__ = (
        Index("ix_security_events_org_created", "organization_id", "created_at"),
        Index("ix_security_events_user_created", "user_id", "created_at"),
        Index("ix_security_events_type_created", "event_type", "created_at"),
        {"postgresql_partition_by": "RANGE (created_at)"},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(primary_key=True, server_default=func.now())
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    event_type: Mapped[str] = mapped_column(String(60))
    severity: Mapped[Severity] = mapped_column(
        pg_enum(Severity, "security_severity"), server_default=Severity.INFO.value
    )
    ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    metadata_: Mapped[dict] = mapped_column("metadata", JSONB, server_default=text("'{}'::jsonb"))


class SecurityIncident(UUIDPrimaryKey, Timestamps, Versioned, Base):
    """Something security people must handle: its severity, where it stands, who owns it, and when it was seen
    (detected_at, the first event's time) as opposed to logged (created_at). Staff only (row-level security)."""

    __tablename__ = "security_incidents"
    __table_args__ = (
        # one live incident per rule and subject: a burst that goes on joins it instead of opening another
        Index(
            "uq_security_incidents_live_dedupe",
            "dedupe_key",
            unique=True,
            postgresql_where=text("status IN ('open', 'investigating', 'contained') AND dedupe_key IS NOT NULL"),
        ),
        Index("ix_security_incidents_status_detected", "status", "detected_at"),
        CheckConstraint("detected_at <= created_at + interval '5 minutes'", name="detected_before_logged"),
        CheckConstraint("personal_data_breach = (breach_flagged_at IS NOT NULL)", name="breach_clock_set"),
    )

    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, server_default=text("''"))
    severity: Mapped[IncidentSeverity] = mapped_column(pg_enum(IncidentSeverity, "incident_severity"))
    status: Mapped[IncidentStatus] = mapped_column(
        pg_enum(IncidentStatus, "incident_status"), server_default=IncidentStatus.OPEN.value
    )
    rule: Mapped[str | None] = mapped_column(String(60))  # the detection rule that opened it; None: a person did
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    detected_at: Mapped[datetime]
    reported_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    acknowledged_at: Mapped[datetime | None]  # first move out of open
    contained_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    personal_data_breach: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    breach_flagged_at: Mapped[datetime | None]  # GDPR Art. 33: the supervisory authority within 72 hours of this
    authority_notified_at: Mapped[datetime | None]


class IncidentActivity(UUIDPrimaryKey, Base):
    """The incident's timeline, append-only: its opening, each transition (from, to, who, when), notes,
    assignments, severity changes, the breach flag, events joining it."""

    __tablename__ = "security_incident_activity"
    __table_args__ = (Index("ix_security_incident_activity_incident", "incident_id", "at"),)

    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("security_incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(server_default=func.now())
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))  # None: a rule
    kind: Mapped[str] = mapped_column(String(20))  # opened | transition | note | assigned | severity | breach | linked
    from_status: Mapped[IncidentStatus | None] = mapped_column(pg_enum(IncidentStatus, "incident_status"))
    to_status: Mapped[IncidentStatus | None] = mapped_column(pg_enum(IncidentStatus, "incident_status"))
    body: Mapped[str] = mapped_column(Text, server_default=text("''"))


class IncidentEvent(Base):
    """A security event that is part of an incident (the event's primary key is (id, created_at): partitioned)."""

    __tablename__ = "security_incident_events"

    incident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("security_incidents.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, index=True)
    event_created_at: Mapped[datetime]


class IncidentOrganization(Base):
    """An organization an incident touches."""

    __tablename__ = "security_incident_organizations"

    incident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("security_incidents.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True, index=True
    )
