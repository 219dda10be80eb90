"""Mission writes: create, edit (versioned), delete/restore; crew assignment, edits, removal (kept as history)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.billing import entitlements
from webapp.billing.entitlements import Gate
from webapp.core import audit
from webapp.core.errors import Conflict, NotFound, ValidationError
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext
from webapp.core.validation import Moment, Number, Tags, Text, choice, clean, partition
from webapp.integrations import outbox
from webapp.missions.enums import CrewRole, Destination, MissionStatus
from webapp.missions.models import Mission, MissionCrew
from webapp.settings import queries as settings_queries

SETTINGS = (
    "recycle_target_kg_per_day",
    "energy_budget_kwh_per_day",
    "crew_time_h_per_day",
    "regolith_supply_kg_per_day",
    "storage_volume_m3",
    "wet_waste_cap_days",
    "water_recovery_capacity_kg",
    "water_recovery_drain_kg_per_day",
    "air_system_capacity_kg",
    "air_system_drain_kg_per_day",
    "propellant_capacity_kg",
)
RULES = (
    Text("name", "Name", max=120, min=1),
    Text("description", "Description", max=4000),
    Number("crew_size", "Crew size", "people", min=1, max=100, places=0),
    Moment("launch_date", "Launch"),
    Moment("landing_date", "Landing"),
    Number("recycle_target_kg_per_day", "Recycling target", "kg/day", max=100000, places=3),
    Number("energy_budget_kwh_per_day", "Energy for recycling", "kWh/day", max=1000000, places=3),
    Number("crew_time_h_per_day", "Crew time", "h/day", max=2400, places=3),
    Number("regolith_supply_kg_per_day", "Regolith supply", "kg/day", max=1000000, places=3),
    Number("storage_volume_m3", "Storage volume", "m³", min_exclusive=True, max=1000000, required=False, places=3),
    Number("wet_waste_cap_days", "Wet-waste cap", "days", min_exclusive=True, max=3650, required=False, places=2),
    # named sinks (engine/sinks.py): empty is unlimited, or passes nothing on
    Number(
        "water_recovery_capacity_kg",
        "Water recovery capacity",
        "kg",
        min_exclusive=True,
        max=1000000,
        required=False,
        places=3,
    ),
    Number("water_recovery_drain_kg_per_day", "Water recovery intake", "kg/day", max=1000000, required=False, places=3),
    Number(
        "air_system_capacity_kg", "Air system capacity", "kg", min_exclusive=True, max=1000000, required=False, places=3
    ),
    Number("air_system_drain_kg_per_day", "Air system uptake", "kg/day", max=1000000, required=False, places=3),
    Number(
        "propellant_capacity_kg",
        "Propellant storage capacity",
        "kg",
        min_exclusive=True,
        max=1000000,
        required=False,
        places=3,
    ),
    Tags(),
)
FIELDS = ("name", "description", "status", "destination", "crew_size", "launch_date", "landing_date", "tags") + SETTINGS
# what an empty planning number starts at: the organization's setting (or the platform's, or habitat.md §4's
# suggested budgets for a 4-crew surface mission, all estimates: webapp/settings/registry.py)
DEFAULT_SETTINGS = {
    "energy_budget_kwh_per_day": "missions.default_energy_budget_kwh_per_day",
    "crew_time_h_per_day": "missions.default_crew_time_h_per_day",
    "regolith_supply_kg_per_day": "missions.default_regolith_supply_kg_per_day",
    "wet_waste_cap_days": "missions.default_wet_waste_cap_days",
}


async def planning_defaults(session: AsyncSession, org_id: uuid.UUID) -> dict:
    """The values empty planning numbers of a new mission take, for this organization."""
    values = await settings_queries.values_of(session, list(DEFAULT_SETTINGS.values()), org_id=org_id)
    return {field: values[key] for field, key in DEFAULT_SETTINGS.items()} | {"recycle_target_kg_per_day": Decimal(0)}


CREW_RULES = (Text("specialization", "Specialization", max=120),)


def _now() -> datetime:
    return datetime.now(UTC)


def _event(mission: Mission) -> dict:
    """A mission as webhook events carry it."""
    return {"id": mission.id} | snapshot(mission)


def snapshot(mission: Mission) -> dict:
    """The editable fields, for audit rows and conflict answers."""
    return {f: getattr(mission, f) for f in FIELDS}


def _clean(values: dict, *, partial: bool, current: Mission | None = None) -> dict:
    data, errors = partition(values, RULES, partial=partial)
    if values.get("status") not in (None, ""):
        data["status"] = choice(values, "status", MissionStatus, errors, label="a status")
    if "destination" in values or not partial:
        data["destination"] = choice(values, "destination", Destination, errors, label="a destination")
    if "crew_size" in data and data["crew_size"] is not None:
        data["crew_size"] = int(data["crew_size"])
    merged = (snapshot(current) if current else {}) | {k: v for k, v in data.items() if k not in errors}
    launch, landing = merged.get("launch_date"), merged.get("landing_date")
    if launch and landing and landing < launch and "landing_date" not in errors:
        errors["landing_date"] = ["Landing cannot be before launch."]
    crew_time, crew_size = merged.get("crew_time_h_per_day"), merged.get("crew_size")
    if crew_time is not None and crew_size and crew_time > 24 * crew_size and "crew_time_h_per_day" not in errors:
        errors["crew_time_h_per_day"] = [f"{crew_size} people have at most {24 * crew_size} hours a day."]
    if errors:
        raise ValidationError(details={"fields": errors})
    return data


async def _flush_unique_name(session: AsyncSession) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        if "uq_missions_org_name_live" in str(exc.orig):
            raise Conflict(
                "Another mission already has this name.",
                {"fields": {"name": ["Another live mission has this name; pick another."]}},
            ) from exc
        raise


async def create_mission(session: AsyncSession, ctx: RequestContext, values: dict) -> Mission:
    """A new mission in planning; unset budgets take habitat.md's suggested defaults."""
    await entitlements.require(session, ctx.org_id, Gate.MISSION, org_slug=ctx.org_slug)
    defaults = await planning_defaults(session, ctx.org_id)
    data = _clean(dict(values) | {k: v for k, v in defaults.items() if values.get(k) in (None, "")}, partial=False)
    data["status"] = data.get("status") or MissionStatus.PLANNING
    mission = Mission(id=new_id(), organization_id=ctx.org_id, created_by=ctx.user_id, **data)
    session.add(mission)
    await _flush_unique_name(session)
    await audit.record(
        session, ctx, "mission.create", entity_type="mission", entity_id=mission.id, after=snapshot(mission)
    )
    await outbox.emit(session, ctx.org_id, "mission.created", _event(mission))
    return mission


async def _lock(session: AsyncSession, ctx: RequestContext, mission_id: uuid.UUID, *, deleted: bool = False) -> Mission:
    stmt = select(Mission).where(
        Mission.id == mission_id,
        Mission.organization_id == ctx.org_id,
        Mission.deleted_at.is_not(None) if deleted else Mission.deleted_at.is_(None),
    )
    mission = (await session.execute(stmt.with_for_update())).scalar_one_or_none()
    if mission is None:
        raise NotFound("No such mission.")
    return mission


async def update_mission(
    session: AsyncSession, ctx: RequestContext, mission_id: uuid.UUID, values: dict, *, version: int | None
) -> Mission:
    """Change some fields; a stale `version` is a 409 with the saved values; fewer seats than crew is refused."""
    mission = await _lock(session, ctx, mission_id)
    if version is not None and version != mission.version:
        raise Conflict(
            "This mission was changed by someone else first.",
            {"current": snapshot(mission) | {"version": mission.version}},
        )
    data = _clean(values, partial=True, current=mission)
    if data.get("crew_size") is not None and data["crew_size"] < (crew := await count_crew(session, mission.id)):
        raise ValidationError.field("crew_size", f"{crew} people are assigned; remove some before shrinking the crew.")
    before = snapshot(mission)
    for name, value in data.items():
        setattr(mission, name, value)
    if snapshot(mission) == before:
        return mission
    await _flush_unique_name(session)
    await audit.record(
        session,
        ctx,
        "mission.update",
        entity_type="mission",
        entity_id=mission.id,
        before=before,
        after=snapshot(mission),
    )
    changed = sorted(k for k, v in snapshot(mission).items() if before.get(k) != v)
    await outbox.emit(session, ctx.org_id, "mission.updated", _event(mission) | {"changed": changed})
    return mission


async def delete_mission(session: AsyncSession, ctx: RequestContext, mission_id: uuid.UUID) -> Mission:
    """Soft delete (crew, products and role assignments stay; restore brings it all back)."""
    mission = await _lock(session, ctx, mission_id)
    mission.deleted_at = _now()
    await session.flush()
    await audit.record(
        session, ctx, "mission.delete", entity_type="mission", entity_id=mission.id, before={"name": mission.name}
    )
    await outbox.emit(session, ctx.org_id, "mission.deleted", {"id": mission.id, "name": mission.name})
    return mission


async def restore_mission(session: AsyncSession, ctx: RequestContext, mission_id: uuid.UUID) -> Mission:
    """Undo a delete; refused (409) when a live mission took its name meanwhile."""
    mission = await _lock(session, ctx, mission_id, deleted=True)
    mission.deleted_at = None
    await _flush_unique_name(session)
    await audit.record(
        session, ctx, "mission.restore", entity_type="mission", entity_id=mission.id, after={"name": mission.name}
    )
    return mission


# ---------------------------------------------------------------- crew


async def count_crew(session: AsyncSession, mission_id: uuid.UUID) -> int:
    """People currently on the mission."""
    stmt = (
        select(func.count())
        .select_from(MissionCrew)
        .where(MissionCrew.mission_id == mission_id, MissionCrew.removed_at.is_(None))
    )
    return (await session.execute(stmt)).scalar_one()


def crew_snapshot(crew: MissionCrew) -> dict:
    """What an audit row and a conflict answer show about one assignment."""
    return {
        "user_id": crew.user_id,
        "crew_role": crew.crew_role,
        "specialization": crew.specialization,
        "removed_at": crew.removed_at,
    }


async def _check_seat(session: AsyncSession, mission: Mission, user_id: uuid.UUID, role: CrewRole) -> None:
    if await count_crew(session, mission.id) >= mission.crew_size:
        raise Conflict(
            f"{mission.name} has all {mission.crew_size} seats filled; raise the crew size first.",
            {"fields": {"user_id": ["No free seat on this mission."]}},
        )
    taken = select(MissionCrew.user_id, MissionCrew.crew_role).where(
        MissionCrew.mission_id == mission.id, MissionCrew.removed_at.is_(None)
    )
    for other, other_role in (await session.execute(taken)).all():
        if other == user_id:
            raise Conflict(
                "This person is already on the crew.", {"fields": {"user_id": ["Already on this mission's crew."]}}
            )
        if role == CrewRole.COMMANDER and other_role == CrewRole.COMMANDER:
            raise Conflict(
                "The mission already has a commander.",
                {"fields": {"crew_role": ["Only one commander per mission; change the other one first."]}},
            )


async def assign_crew(
    session: AsyncSession, ctx: RequestContext, mission_id: uuid.UUID, *, user_id, crew_role, specialization: str = ""
) -> MissionCrew:
    """Put a member of this organization on the mission (one seat per crew_size, one commander)."""
    from webapp.organizations.queries import find_live_membership

    mission = await _lock(session, ctx, mission_id)
    errors: dict = {}
    role = choice({"crew_role": crew_role}, "crew_role", CrewRole, errors, label="a crew role")
    try:
        spec = clean({"specialization": specialization}, CREW_RULES)["specialization"]
    except ValidationError as exc:
        errors |= exc.details["fields"]
    try:
        person = user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(str(user_id))
    except ValueError:
        person = None
    membership = await find_live_membership(session, ctx.org_id, person) if person else None
    if membership is None:
        errors["user_id"] = ["Choose a member of this organization."]
    if errors:
        raise ValidationError(details={"fields": errors})
    await _check_seat(session, mission, person, role)
    crew = MissionCrew(
        id=new_id(),
        organization_id=ctx.org_id,
        mission_id=mission.id,
        membership_id=membership.id,
        user_id=person,
        crew_role=role,
        specialization=spec,
        assigned_by=ctx.user_id,
    )
    session.add(crew)
    await session.flush()
    await audit.record(
        session, ctx, "mission.crew_assign", entity_type="mission", entity_id=mission.id, after=crew_snapshot(crew)
    )
    return crew


async def _lock_crew(
    session: AsyncSession, ctx: RequestContext, mission_id: uuid.UUID, crew_id: uuid.UUID, *, removed: bool = False
) -> MissionCrew:
    stmt = select(MissionCrew).where(
        MissionCrew.id == crew_id,
        MissionCrew.mission_id == mission_id,
        MissionCrew.organization_id == ctx.org_id,
        MissionCrew.removed_at.is_not(None) if removed else MissionCrew.removed_at.is_(None),
    )
    crew = (await session.execute(stmt.with_for_update())).scalar_one_or_none()
    if crew is None:
        raise NotFound("No such crew assignment.")
    return crew


async def update_crew(
    session: AsyncSession,
    ctx: RequestContext,
    mission_id: uuid.UUID,
    crew_id: uuid.UUID,
    *,
    crew_role=None,
    specialization: str | None = None,
    version: int | None = None,
) -> MissionCrew:
    """Change someone's crew role or specialization; a stale `version` is a 409."""
    await _lock(session, ctx, mission_id)
    crew = await _lock_crew(session, ctx, mission_id, crew_id)
    if version is not None and version != crew.version:
        raise Conflict(
            "This assignment was changed by someone else first.",
            {"current": crew_snapshot(crew) | {"version": crew.version}},
        )
    errors: dict = {}
    role = choice({"crew_role": crew_role}, "crew_role", CrewRole, errors, required=False, label="a crew role")
    spec = None
    if specialization is not None:
        try:
            spec = clean({"specialization": specialization}, CREW_RULES)["specialization"]
        except ValidationError as exc:
            errors |= exc.details["fields"]
    if errors:
        raise ValidationError(details={"fields": errors})
    before = crew_snapshot(crew)
    if role == CrewRole.COMMANDER and crew.crew_role != CrewRole.COMMANDER:
        others = (
            select(func.count())
            .select_from(MissionCrew)
            .where(
                MissionCrew.mission_id == mission_id,
                MissionCrew.removed_at.is_(None),
                MissionCrew.crew_role == CrewRole.COMMANDER,
            )
        )
        if (await session.execute(others)).scalar_one():
            raise Conflict(
                "The mission already has a commander.",
                {"fields": {"crew_role": ["Only one commander per mission; change the other one first."]}},
            )
    crew.crew_role = role or crew.crew_role
    crew.specialization = crew.specialization if spec is None else spec
    if crew_snapshot(crew) != before:
        await session.flush()
        await audit.record(
            session,
            ctx,
            "mission.crew_update",
            entity_type="mission",
            entity_id=mission_id,
            before=before,
            after=crew_snapshot(crew),
        )
    return crew


async def remove_crew(
    session: AsyncSession, ctx: RequestContext, mission_id: uuid.UUID, crew_id: uuid.UUID
) -> MissionCrew:
    """Take someone off the crew; the row stays as history (removed_at, removed_by) and can be undone."""
    await _lock(session, ctx, mission_id)
    crew = await _lock_crew(session, ctx, mission_id, crew_id)
    crew.removed_at, crew.removed_by = _now(), ctx.user_id
    await session.flush()
    await audit.record(
        session,
        ctx,
        "mission.crew_remove",
        entity_type="mission",
        entity_id=mission_id,
        before=crew_snapshot(crew) | {"removed_at": None},
        after=crew_snapshot(crew),
    )
    return crew


async def undo_crew_removal(
    session: AsyncSession, ctx: RequestContext, mission_id: uuid.UUID, crew_id: uuid.UUID
) -> MissionCrew:
    """Put a removed person back (the seat, one-commander and membership rules apply again)."""
    from webapp.organizations.queries import find_live_membership

    mission = await _lock(session, ctx, mission_id)
    crew = await _lock_crew(session, ctx, mission_id, crew_id, removed=True)
    if await find_live_membership(session, ctx.org_id, crew.user_id) is None:
        raise Conflict("This person is no longer a member of the organization.")
    await _check_seat(session, mission, crew.user_id, crew.crew_role)
    crew.removed_at = crew.removed_by = None
    await session.flush()
    await audit.record(
        session, ctx, "mission.crew_restore", entity_type="mission", entity_id=mission_id, after=crew_snapshot(crew)
    )
    return crew


async def end_crew_assignments(session: AsyncSession, ctx: RequestContext | None, user_id: uuid.UUID) -> int:
    """Take a person off every crew of the current organization (they left it); returns how many."""
    result = await session.execute(
        update(MissionCrew)
        .where(MissionCrew.user_id == user_id, MissionCrew.removed_at.is_(None))
        .values(removed_at=_now(), removed_by=ctx.user_id if ctx else None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
