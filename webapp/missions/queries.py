"""Mission reads: the list (search, filters, sorts, cursor), one mission, its crew and its dashboard figures."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.db import fetch_rows
from webapp.core.errors import NotFound
from webapp.core.listing import Listing, choice, search, tagged, tsvector_match
from webapp.core.pagination import Page
from webapp.identity.models import User
from webapp.missions.enums import CrewRole, Destination, MissionStatus
from webapp.missions.models import Mission, MissionCrew


@dataclass(frozen=True)
class MissionRow:
    """A mission as lists and the JSON API show it."""

    id: uuid.UUID
    name: str
    description: str
    status: MissionStatus
    destination: Destination
    crew_size: int
    launch_date: datetime | None
    landing_date: datetime | None
    recycle_target_kg_per_day: Decimal
    energy_budget_kwh_per_day: Decimal
    crew_time_h_per_day: Decimal
    regolith_supply_kg_per_day: Decimal
    storage_volume_m3: Decimal | None
    wet_waste_cap_days: Decimal | None
    water_recovery_capacity_kg: Decimal | None
    water_recovery_drain_kg_per_day: Decimal | None
    air_system_capacity_kg: Decimal | None
    air_system_drain_kg_per_day: Decimal | None
    propellant_capacity_kg: Decimal | None
    created_at: datetime
    updated_at: datetime
    version: int
    tags: list[str]


_COLUMNS = tuple(getattr(Mission, f) for f in MissionRow.__dataclass_fields__)

MISSIONS = Listing(
    select(*_COLUMNS).where(Mission.organization_id == bindparam("org_id"), Mission.deleted_at.is_(None)),
    id_column=Mission.id,
    sorts={
        "created_at": Mission.created_at,
        "name": Mission.name,
        "launch_date": func.coalesce(Mission.launch_date, literal_column("'9999-12-31 00:00+00'::timestamptz")),
        "crew_size": Mission.crew_size,
        "status": Mission.status,
    },
    filters={
        "status": choice(MissionStatus, lambda p: Mission.status == p),
        "destination": choice(Destination, lambda p: Mission.destination == p),
        "tag": tagged(Mission.tags),
        "q": search(
            tsvector_match(Mission.search_vector),
            description="Words of the name and description, as prefixes: `mars alp` finds Mars Settlement Alpha.",
        ),
    },
    default_sort="created_at:desc",
)


async def list_missions(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    q: str | None = None,
    status: str | None = None,
    destination: str | None = None,
    tag: str | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 25,
) -> Page[MissionRow]:
    """Live missions of the current organization, one page; `q` matches words of the name and description."""
    page = await MISSIONS.page(
        session,
        {"org_id": org_id},
        sort=sort,
        cursor=cursor,
        limit=limit,
        filters={"q": q, "status": status, "destination": destination, "tag": tag},
    )
    page.items = [MissionRow(*row[: len(_COLUMNS)]) for row in page.items]
    return page


async def get_mission(session: AsyncSession, org_id: uuid.UUID, mission_id: uuid.UUID) -> Mission:
    """The live mission; NotFound otherwise (also for another organization's)."""
    stmt = select(Mission).where(
        Mission.id == mission_id, Mission.organization_id == org_id, Mission.deleted_at.is_(None)
    )
    mission = (await session.execute(stmt)).scalar_one_or_none()
    if mission is None:
        raise NotFound("No such mission.")
    return mission


async def get_mission_row(session: AsyncSession, org_id: uuid.UUID, mission_id: uuid.UUID) -> MissionRow:
    """One live mission as a list row; NotFound otherwise."""
    stmt = select(*_COLUMNS).where(
        Mission.id == mission_id, Mission.organization_id == org_id, Mission.deleted_at.is_(None)
    )
    row = (await fetch_rows(session, stmt)).one_or_none()
    if row is None:
        raise NotFound("No such mission.")
    return MissionRow(*row)


async def list_deleted_missions(session: AsyncSession, org_id: uuid.UUID, limit: int = 20) -> list[MissionRow]:
    """Recently deleted missions (to restore)."""
    stmt = (
        select(*_COLUMNS)
        .where(Mission.organization_id == org_id, Mission.deleted_at.is_not(None))
        .order_by(Mission.deleted_at.desc())
        .limit(limit)
    )
    return [MissionRow(*row) for row in (await fetch_rows(session, stmt)).all()]


async def mission_names(session: AsyncSession, org_id: uuid.UUID) -> list[tuple[uuid.UUID, str]]:
    """(id, name) of every live mission, by name (pickers)."""
    stmt = (
        select(Mission.id, Mission.name)
        .where(Mission.organization_id == org_id, Mission.deleted_at.is_(None))
        .order_by(Mission.name)
        .limit(500)
    )
    return [tuple(r) for r in (await fetch_rows(session, stmt)).all()]


@dataclass(frozen=True)
class CrewRow:
    """One crew assignment (current or past)."""

    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    email: str
    crew_role: CrewRole
    specialization: str
    assigned_at: datetime
    removed_at: datetime | None
    version: int


async def list_crew(session: AsyncSession, mission_id: uuid.UUID, *, include_removed: bool = False) -> list[CrewRow]:
    """The crew (commander first, then by name); with include_removed, past members after them."""
    stmt = (
        select(
            MissionCrew.id,
            MissionCrew.user_id,
            User.name,
            User.email,
            MissionCrew.crew_role,
            MissionCrew.specialization,
            MissionCrew.assigned_at,
            MissionCrew.removed_at,
            MissionCrew.version,
        )
        .join(User, User.id == MissionCrew.user_id)
        .where(MissionCrew.mission_id == mission_id)
        .order_by(
            MissionCrew.removed_at.is_not(None),
            MissionCrew.removed_at.desc(),
            (MissionCrew.crew_role != CrewRole.COMMANDER),
            User.name,
        )
    )
    if not include_removed:
        stmt = stmt.where(MissionCrew.removed_at.is_(None))
    return [CrewRow(*row) for row in (await fetch_rows(session, stmt)).all()]


async def get_crew(session: AsyncSession, mission_id: uuid.UUID, crew_id: uuid.UUID) -> CrewRow:
    """One assignment of this mission; NotFound otherwise."""
    for row in await list_crew(session, mission_id, include_removed=True):
        if row.id == crew_id:
            return row
    raise NotFound("No such crew assignment.")


@dataclass(frozen=True)
class MissionBrief:
    """A mission as the overview lists it: status, where, and how full its crew is."""

    id: uuid.UUID
    name: str
    status: MissionStatus
    destination: Destination
    crew_size: int
    launch_date: datetime | None
    crew: int


async def overview_missions(session: AsyncSession, org_id: uuid.UUID, limit: int = 6) -> list[MissionBrief]:
    """Live missions, flying ones first, then those being planned, newest first within each."""
    crew = (
        select(func.count())
        .select_from(MissionCrew)
        .where(MissionCrew.mission_id == Mission.id, MissionCrew.removed_at.is_(None))
        .scalar_subquery()
    )
    order = {MissionStatus.ACTIVE: 0, MissionStatus.PLANNING: 1}
    stmt = (
        select(
            Mission.id, Mission.name, Mission.status, Mission.destination, Mission.crew_size, Mission.launch_date, crew
        )
        .where(Mission.organization_id == org_id, Mission.deleted_at.is_(None))
        .order_by(
            case(*((Mission.status == s, rank) for s, rank in order.items()), else_=len(order)),
            Mission.created_at.desc(),
        )
        .limit(limit)
    )
    return [MissionBrief(*row) for row in (await fetch_rows(session, stmt)).all()]
