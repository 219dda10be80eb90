"""missions and mission_crew (tenant-owned, RLS)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Computed,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    and_,
    cast,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import (
    TAGS_ARE_A_LIST,
    Base,
    SoftDelete,
    Tagged,
    TenantOwned,
    Timestamps,
    UUIDPrimaryKey,
    Versioned,
)
from webapp.core.entities import EntityKind, register
from webapp.core.enums import pg_enum
from webapp.identity.models import User
from webapp.missions.enums import CrewRole, Destination, MissionStatus

SEARCH_DOCUMENT = "to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, ''))"


class Mission(UUIDPrimaryKey, TenantOwned, Timestamps, SoftDelete, Versioned, Tagged, Base):
    """A crewed mission and the planning settings its simulations start from."""

    __tablename__ = "missions"
    __table_args__ = (
        UniqueConstraint("organization_id", "id"),
        Index(
            "uq_missions_org_name_live",
            "organization_id",
            func.lower(text("name")),
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index(
            "ix_missions_org_created_live",
            "organization_id",
            "created_at",
            "id",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_missions_search", "search_vector", postgresql_using="gin"),
        CheckConstraint("char_length(name) BETWEEN 1 AND 120", name="name_length"),
        CheckConstraint("char_length(description) <= 4000", name="description_length"),
        CheckConstraint(TAGS_ARE_A_LIST, name="tags_array"),
        CheckConstraint("crew_size BETWEEN 1 AND 100", name="crew_size_range"),
        CheckConstraint(
            "landing_date IS NULL OR launch_date IS NULL OR landing_date >= launch_date", name="landing_after_launch"
        ),
        CheckConstraint("recycle_target_kg_per_day >= 0", name="recycle_target_nonnegative"),
        CheckConstraint("energy_budget_kwh_per_day >= 0", name="energy_budget_nonnegative"),
        CheckConstraint("crew_time_h_per_day >= 0 AND crew_time_h_per_day <= 24 * crew_size", name="crew_time_range"),
        CheckConstraint("regolith_supply_kg_per_day >= 0", name="regolith_supply_nonnegative"),
        CheckConstraint("storage_volume_m3 IS NULL OR storage_volume_m3 > 0", name="storage_volume_positive"),
        CheckConstraint("wet_waste_cap_days IS NULL OR wet_waste_cap_days > 0", name="wet_waste_cap_positive"),
        *(
            CheckConstraint(f"{sink}_capacity_kg IS NULL OR {sink}_capacity_kg > 0", name=f"{sink}_capacity_positive")
            for sink in ("water_recovery", "air_system", "propellant")
        ),
        *(
            CheckConstraint(
                f"{sink}_drain_kg_per_day IS NULL OR {sink}_drain_kg_per_day >= 0", name=f"{sink}_drain_nonnegative"
            )
            for sink in ("water_recovery", "air_system")
        ),
    )

    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, server_default="")
    status: Mapped[MissionStatus] = mapped_column(
        pg_enum(MissionStatus, "mission_status"), server_default=MissionStatus.PLANNING.value
    )
    destination: Mapped[Destination] = mapped_column(pg_enum(Destination, "mission_destination"))
    crew_size: Mapped[int] = mapped_column(Integer)
    launch_date: Mapped[datetime | None] = mapped_column()
    landing_date: Mapped[datetime | None] = mapped_column()
    recycle_target_kg_per_day: Mapped[Decimal] = mapped_column(Numeric(10, 3), server_default=text("0"))
    energy_budget_kwh_per_day: Mapped[Decimal] = mapped_column(Numeric(10, 3), server_default=text("0"))
    crew_time_h_per_day: Mapped[Decimal] = mapped_column(Numeric(8, 3), server_default=text("0"))
    regolith_supply_kg_per_day: Mapped[Decimal] = mapped_column(Numeric(10, 3), server_default=text("0"))
    storage_volume_m3: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))
    wet_waste_cap_days: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    # named sinks (engine/sinks.py): capacity in kg and what each passes on a day; NULL is unlimited / nothing
    water_recovery_capacity_kg: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))
    water_recovery_drain_kg_per_day: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))
    air_system_capacity_kg: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))
    air_system_drain_kg_per_day: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))
    propellant_capacity_kg: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    search_vector: Mapped[str] = mapped_column(TSVECTOR, Computed(SEARCH_DOCUMENT, persisted=True))


class MissionCrew(UUIDPrimaryKey, TenantOwned, Versioned, Base):
    """One member on one mission; removal keeps the row (`removed_at`) as history."""

    __tablename__ = "mission_crew"
    __table_args__ = (
        UniqueConstraint("organization_id", "id"),
        ForeignKeyConstraint(
            ["organization_id", "mission_id"], ["missions.organization_id", "missions.id"], ondelete="CASCADE"
        ),
        # the person must be a member of the same organization: the schema, not only the service, says so
        ForeignKeyConstraint(
            ["organization_id", "membership_id", "user_id"],
            ["memberships.organization_id", "memberships.id", "memberships.user_id"],
            ondelete="CASCADE",
        ),
        Index(
            "uq_mission_crew_person_live",
            "mission_id",
            "user_id",
            unique=True,
            postgresql_where=text("removed_at IS NULL"),
        ),
        Index(
            "uq_mission_crew_commander_live",
            "mission_id",
            unique=True,
            postgresql_where=text("removed_at IS NULL AND crew_role = 'commander'"),
        ),
        Index("ix_mission_crew_user", "user_id"),
        CheckConstraint("char_length(specialization) <= 120", name="specialization_length"),
        CheckConstraint("removed_at IS NULL OR removed_at >= assigned_at", name="removed_after_assigned"),
    )

    mission_id: Mapped[uuid.UUID] = mapped_column()
    membership_id: Mapped[uuid.UUID] = mapped_column()
    user_id: Mapped[uuid.UUID] = mapped_column()
    crew_role: Mapped[CrewRole] = mapped_column(pg_enum(CrewRole, "crew_role"))
    specialization: Mapped[str] = mapped_column(String(120), server_default="")
    assigned_at: Mapped[datetime] = mapped_column(server_default=func.now())
    assigned_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    removed_at: Mapped[datetime | None] = mapped_column()
    removed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


def _mission_documents():
    return select(
        Mission.id.label("entity_id"),
        Mission.organization_id,
        Mission.name.label("title"),
        func.concat_ws(" ", Mission.description, cast(Mission.destination, String), cast(Mission.status, String)).label(
            "body"
        ),
        Mission.tags,
        Mission.id.label("mission_id"),
    ).where(Mission.deleted_at.is_(None))


def _crew_documents():
    return (
        select(
            MissionCrew.id.label("entity_id"),
            MissionCrew.organization_id,
            func.concat(User.name, " · ", func.replace(cast(MissionCrew.crew_role, String), "_", " ")).label("title"),
            func.concat_ws(" ", MissionCrew.specialization, Mission.name).label("body"),
            literal([], JSONB).label("tags"),
            MissionCrew.mission_id,
        )
        .join(User, User.id == MissionCrew.user_id)
        .join(
            Mission, and_(Mission.organization_id == MissionCrew.organization_id, Mission.id == MissionCrew.mission_id)
        )
        .where(Mission.deleted_at.is_(None))
    )


register(
    EntityKind(
        "missions",
        "Mission",
        "Missions",
        Mission,
        "missions:read",
        "missions:write",
        _mission_documents,
        "missions.show",
        lambda entity_id, mission_id: {"mission_id": entity_id},
        icon="rocket",
    )
)
register(
    EntityKind(
        "crew-assignments",
        "Crew assignment",
        "Crew assignments",
        MissionCrew,
        "missions:read",
        "crew:write",
        _crew_documents,
        "missions.crew_row",
        lambda entity_id, mission_id: {"mission_id": mission_id, "crew_id": entity_id},
        searchable=False,
        icon="users",
    )
)
