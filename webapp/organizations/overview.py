"""The organization overview's figures: headline counts in one round trip, and the getting-started checklist a new
organization works through."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.db import fetch_rows
from webapp.missions.enums import MissionStatus
from webapp.missions.models import Mission, MissionCrew
from webapp.organizations.models import Invitation, Membership
from webapp.simulations.enums import ProductKind, RunStatus
from webapp.simulations.models import Product, SimulationRun


@dataclass(frozen=True)
class Counts:
    """The headline numbers of an organization."""

    missions: int
    active_missions: int
    crew: int
    runs: int
    live_runs: int
    members: int
    invitations: int
    recorded_kg: Decimal


@dataclass(frozen=True)
class Step:
    """One getting-started step: what to do, whether it is done, where to do it (None: the viewer may not)."""

    title: str
    detail: str
    done: bool
    endpoint: str | None


def _count(model, *where):
    return select(func.count()).select_from(model).where(*where).scalar_subquery()


async def counts(session: AsyncSession, org_id: uuid.UUID) -> Counts:
    """Missions, crew, runs, members, pending invitations and recorded kilograms, in one statement."""
    live_mission = select(Mission.id).where(Mission.organization_id == org_id, Mission.deleted_at.is_(None))
    stmt = select(
        _count(Mission, Mission.organization_id == org_id, Mission.deleted_at.is_(None)),
        _count(
            Mission,
            Mission.organization_id == org_id,
            Mission.deleted_at.is_(None),
            Mission.status == MissionStatus.ACTIVE,
        ),
        _count(
            MissionCrew,
            MissionCrew.organization_id == org_id,
            MissionCrew.removed_at.is_(None),
            MissionCrew.mission_id.in_(live_mission),
        ),
        _count(SimulationRun, SimulationRun.organization_id == org_id, SimulationRun.deleted_at.is_(None)),
        _count(
            SimulationRun,
            SimulationRun.organization_id == org_id,
            SimulationRun.deleted_at.is_(None),
            SimulationRun.status.in_((RunStatus.QUEUED, RunStatus.RUNNING)),
        ),
        _count(Membership, Membership.organization_id == org_id, Membership.deleted_at.is_(None)),
        _count(
            Invitation,
            Invitation.organization_id == org_id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > func.now(),
        ),
        select(func.coalesce(func.sum(Product.quantity_kg), 0))
        .where(
            Product.organization_id == org_id,
            Product.deleted_at.is_(None),
            Product.kind == ProductKind.RECORDED,
            Product.mission_id.in_(live_mission),
        )
        .scalar_subquery(),
    )
    return Counts(*(await fetch_rows(session, stmt)).one())


def getting_started(figures: Counts, can) -> list[Step]:
    """The first things a new organization does, in order; `can(permission)` decides which the viewer may do."""

    def where(endpoint: str, permission: str) -> str | None:
        return endpoint if can(permission) else None

    return [
        Step("Create your organization", "Done: you are in it.", True, None),
        Step(
            "Plan a mission",
            "Crew size, destination and daily budgets are all a plan needs.",
            figures.missions > 0,
            where("missions.new", "missions:write"),
        ),
        Step(
            "Put a crew on it",
            "Assign members to a mission's seats from its page.",
            figures.crew > 0,
            where("missions.index", "crew:write"),
        ),
        Step(
            "Run a first simulation",
            "See how the crew's waste becomes bricks, filament, water and methane.",
            figures.runs > 0,
            where("missions.index", "simulations:run"),
        ),
        Step(
            "Invite your team",
            "Commanders, crew and analysts each get the role they need.",
            figures.members > 1 or figures.invitations > 0,
            where("organizations.members", "members:invite"),
        ),
        Step(
            "Record what the crew made",
            "Recorded products count towards a mission's totals; plans never do.",
            figures.recorded_kg > 0,
            where("products.index", "products:write"),
        ),
    ]
