"""JSON API: missions (under the organization, and by id for bearer credentials) and their crews."""

from __future__ import annotations

import uuid

from quart import Blueprint, g, request, url_for
from quart_schema import document_request

from webapp.core.forms import parse_body, parse_query
from webapp.core.listing import lists
from webapp.core.openapi import Items, Page, query, raises, returns
from webapp.core.pagination import parse_limit
from webapp.core.permissions import Perm, require_bound_credential, requires
from webapp.core.transaction import db_session
from webapp.missions import queries, service
from webapp.missions.schemas import (
    CrewIn,
    CrewOut,
    CrewPatch,
    CrewQuery,
    MissionIn,
    MissionOut,
    MissionPatch,
    MissionQuery,
)

org_bp = Blueprint("missions_api", __name__, url_prefix="/api/v1/organizations/<org:org_id>/missions")
bp = Blueprint("mission_api", __name__, url_prefix="/api/v1/missions")


bp.before_request(require_bound_credential)


def _number(value):
    return None if value is None else float(value)


def mission_out(mission, crew: list | None = None) -> dict:
    """Mission -> response JSON."""
    return MissionOut(
        id=mission.id,
        name=mission.name,
        description=mission.description,
        status=mission.status,
        destination=mission.destination,
        crew_size=mission.crew_size,
        launch_date=mission.launch_date,
        landing_date=mission.landing_date,
        settings={f: _number(getattr(mission, f)) for f in service.SETTINGS},
        tags=mission.tags,
        created_at=mission.created_at,
        updated_at=mission.updated_at,
        version=mission.version,
        crew=[crew_out(c) for c in crew] if crew is not None else None,
    ).model_dump(mode="json", exclude={"crew"} if crew is None else None)


def crew_out(row: queries.CrewRow) -> CrewOut:
    """CrewRow -> response schema."""
    return CrewOut(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        email=row.email,
        role=row.crew_role,
        specialization=row.specialization,
        assigned_at=row.assigned_at,
        removed_at=row.removed_at,
        version=row.version,
    )


def _values(data, *, partial: bool) -> dict:
    raw = data.model_dump(exclude_unset=partial, exclude={"settings", "version"})
    if not partial:  # left out is not the same as null: left-out budgets take the suggested defaults
        raw = {k: v for k, v in raw.items() if k in data.model_fields_set or v is not None}
    settings = data.settings.model_dump(exclude_unset=True) if data.settings is not None else {}
    return raw | settings


@org_bp.get("")
@requires(Perm.MISSIONS_READ)
@lists(queries.MISSIONS)
@returns(Page[MissionOut])
async def list_missions(org_id: uuid.UUID | str):
    """Missions: filters `status`, `destination`, `q`; `sort=name:asc` (name, created_at, launch_date, crew_size,
    status); cursor pagination with `limit` and `cursor`."""
    args = request.args
    page = await queries.list_missions(
        db_session(),
        g.ctx.org_id,
        q=args.get("q"),
        status=args.get("status"),
        destination=args.get("destination"),
        sort=args.get("sort"),
        cursor=args.get("cursor") or None,
        limit=parse_limit(args.get("limit")),
    )
    return {"items": [mission_out(m) for m in page.items], "next_cursor": page.next_cursor}


@org_bp.post("")
@requires(Perm.MISSIONS_WRITE)
@document_request(MissionIn)
@returns(MissionOut, 201, creates="mission_api.get_mission")
@raises(409)
async def create_mission(org_id: uuid.UUID | str):
    """Create a mission: 201 + Location."""
    data = await parse_body(MissionIn)
    mission = await service.create_mission(db_session(), g.ctx, _values(data, partial=False))
    return mission_out(mission), 201, {"Location": url_for("mission_api.get_mission", mission_id=mission.id)}


@bp.get("/<uuid:mission_id>")
@requires(Perm.MISSIONS_READ)
@query(MissionQuery)
@returns(MissionOut)
async def get_mission(mission_id: uuid.UUID):
    """One mission; `?embed=crew` adds its current crew."""
    args = parse_query(MissionQuery)
    session = db_session()
    mission = await queries.get_mission(session, g.ctx.org_id, mission_id)
    crew = await queries.list_crew(session, mission.id) if args.embed == "crew" else None
    return mission_out(mission, crew)


@bp.patch("/<uuid:mission_id>")
@requires(Perm.MISSIONS_WRITE, mission_param="mission_id")
@document_request(MissionPatch)
@returns(MissionOut)
@raises(409)
async def update_mission(mission_id: uuid.UUID):
    """Change fields; 409 with `details.current` when `version` is stale."""
    data = await parse_body(MissionPatch)
    mission = await service.update_mission(
        db_session(), g.ctx, mission_id, _values(data, partial=True), version=data.version
    )
    return mission_out(mission)


@bp.delete("/<uuid:mission_id>")
@requires(Perm.MISSIONS_WRITE, mission_param="mission_id")
@returns(None, 204)
@raises(409)
async def delete_mission(mission_id: uuid.UUID):
    """Soft delete: 204 (POST .../restore undoes it)."""
    await service.delete_mission(db_session(), g.ctx, mission_id)
    return "", 204


@bp.post("/<uuid:mission_id>/restore")
@requires(Perm.MISSIONS_WRITE)
@returns(MissionOut)
@raises(409)
async def restore_mission(mission_id: uuid.UUID):
    """Undo a delete."""
    return mission_out(await service.restore_mission(db_session(), g.ctx, mission_id))


@bp.get("/<uuid:mission_id>/crew")
@requires(Perm.MISSIONS_READ)
@query(CrewQuery)
@returns(Items[CrewOut])
async def list_crew(mission_id: uuid.UUID):
    """The crew; `?include=removed` adds past members (history)."""
    args = parse_query(CrewQuery)
    session = db_session()
    await queries.get_mission(session, g.ctx.org_id, mission_id)
    rows = await queries.list_crew(session, mission_id, include_removed=args.include == "removed")
    return {"items": [crew_out(r).model_dump(mode="json") for r in rows]}


@bp.post("/<uuid:mission_id>/crew")
@requires(Perm.CREW_WRITE, mission_param="mission_id")
@document_request(CrewIn)
@returns(CrewOut, 201, creates="mission_api.get_crew")
@raises(409)
async def assign_crew(mission_id: uuid.UUID):
    """Assign a member: 201 + Location."""
    data = await parse_body(CrewIn)
    session = db_session()
    crew = await service.assign_crew(
        session, g.ctx, mission_id, user_id=data.user_id, crew_role=data.role, specialization=data.specialization
    )
    row = await queries.get_crew(session, mission_id, crew.id)
    return (
        crew_out(row).model_dump(mode="json"),
        201,
        {"Location": url_for("mission_api.get_crew", mission_id=mission_id, crew_id=crew.id)},
    )


@bp.get("/<uuid:mission_id>/crew/<uuid:crew_id>")
@requires(Perm.MISSIONS_READ)
@returns(CrewOut)
async def get_crew(mission_id: uuid.UUID, crew_id: uuid.UUID):
    """One crew assignment (current or past)."""
    session = db_session()
    await queries.get_mission(session, g.ctx.org_id, mission_id)
    return crew_out(await queries.get_crew(session, mission_id, crew_id)).model_dump(mode="json")


@bp.patch("/<uuid:mission_id>/crew/<uuid:crew_id>")
@requires(Perm.CREW_WRITE, mission_param="mission_id")
@document_request(CrewPatch)
@returns(CrewOut)
@raises(409)
async def update_crew(mission_id: uuid.UUID, crew_id: uuid.UUID):
    """Change a crew role or specialization."""
    data = await parse_body(CrewPatch)
    session = db_session()
    await service.update_crew(
        session,
        g.ctx,
        mission_id,
        crew_id,
        crew_role=data.role,
        specialization=data.specialization,
        version=data.version,
    )
    return crew_out(await queries.get_crew(session, mission_id, crew_id)).model_dump(mode="json")


@bp.delete("/<uuid:mission_id>/crew/<uuid:crew_id>")
@requires(Perm.CREW_WRITE, mission_param="mission_id")
@returns(None, 204)
async def remove_crew(mission_id: uuid.UUID, crew_id: uuid.UUID):
    """Take someone off the crew (kept as history with removed_at): 204."""
    await service.remove_crew(db_session(), g.ctx, mission_id, crew_id)
    return "", 204
