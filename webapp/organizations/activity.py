"""The overview's activity feed: audit rows told as sentences people read ("Ada assigned Yuri to Artemis Base"),
with the people, missions and runs they name looked up in a few batched queries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from quart import url_for
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.audit import AuditLog
from webapp.core.db import fetch_rows
from webapp.identity.models import User
from webapp.missions.models import Mission
from webapp.simulations.models import SimulationRun

PAST = {"create": "created", "update": "changed", "delete": "deleted", "restore": "restored"}
# sign-ins and token refreshes are the security log's business, not the team's news
QUIET_PREFIXES = ("auth.", "platform.", "user.")


@dataclass(frozen=True)
class ActivityItem:
    """One thing that happened: who, a sentence of what, where to look."""

    when: datetime
    actor: str
    text: str
    href: str | None = None
    break_glass: bool = False


@dataclass(frozen=True)
class _Row:
    when: datetime
    action: str
    entity_type: str
    entity_id: str | None
    before: dict
    after: dict
    metadata: dict
    actor: str | None
    break_glass: bool

    def get(self, key: str):
        """A value from the row's after-image, else its before-image."""
        return self.after.get(key, self.before.get(key))


class _Names:
    """Names of the people, missions and runs a page of rows mentions."""

    def __init__(self, users: dict, missions: dict, runs: dict):
        self.users, self.missions, self.runs = users, missions, runs

    def user(self, value) -> str:
        return self.users.get(str(value), "a former member")

    def mission(self, value) -> str:
        return self.missions.get(str(value), "a deleted mission")

    def run(self, value) -> str:
        return self.runs.get(str(value), ("a deleted run", None))[0]


def _label(key: str | None) -> str:
    return (key or "").replace("_", " ")


def _kg(value) -> str:
    try:
        return f"{Decimal(str(value)).normalize():,f} kg"
    except (InvalidOperation, ValueError):
        return "some"


def _mission_href(mission_id) -> str | None:
    return url_for("missions.show", mission_id=mission_id) if mission_id else None


def _changed(row: _Row) -> str:
    """'status, crew size' for the fields an update touched."""
    keys = [k for k in row.after if k != "version" and row.before.get(k) != row.after.get(k)]
    return ", ".join(_label(k) for k in keys[:3]) + (" …" if len(keys) > 3 else "")


def _describe(row: _Row, names: _Names) -> tuple[str, str | None]:
    """The sentence (without its actor) and the page it points at."""
    verb = row.action.rpartition(".")[2]
    entity = row.entity_id
    if row.action.startswith("mission.crew_"):
        person = names.user(row.get("user_id"))
        mission = names.mission(entity)
        text = {
            "crew_assign": f"assigned {person} to {mission}"
            + (f" as {_label(row.after.get('crew_role'))}" if row.after.get("crew_role") else ""),
            "crew_remove": f"removed {person} from the crew of {mission}",
            "crew_restore": f"put {person} back on the crew of {mission}",
            "crew_update": f"changed {person}'s crew role on {mission}",
        }.get(verb, f"changed the crew of {mission}")
        return text, _mission_href(entity)
    if row.entity_type == "mission":
        mission = names.mission(entity)
        if verb == "update":
            what = _changed(row)
            return f"updated {mission}" + (f" ({what})" if what else ""), _mission_href(entity)
        past = {"create": "created the mission", "delete": "deleted the mission", "restore": "restored the mission"}
        return f"{past.get(verb, verb)} {mission}", _mission_href(entity) if verb != "delete" else None
    if row.entity_type == "simulation_run":
        name, mission_id = names.runs.get(str(entity), (row.get("name") or "a run", None))
        href = url_for("simulations.show", run_id=entity) if str(entity) in names.runs else None
        where = f" on {names.mission(mission_id)}" if mission_id else ""
        past = {"start": "started the simulation", "cancel": "cancelled the simulation", "delete": "deleted the run"}
        if verb == "reaped":
            return f"stopped {name}{where}: its worker went silent", href
        return f"{past.get(verb, verb)} {name}{where}", href
    if row.entity_type == "product":
        what = f"{_kg(row.get('quantity_kg'))} of {_label(row.get('product_type'))}"
        mission = names.mission(row.get("mission_id"))
        past = {"create": "recorded", "update": "corrected a record of", "delete": "deleted", "restore": "restored"}
        return f"{past.get(verb, verb)} {what} for {mission}", _mission_href(row.get("mission_id"))
    if row.entity_type == "membership":
        person = names.user(row.get("user_id"))
        if verb == "create":
            return f"added {person} as {_label(row.after.get('role'))}", None
        if verb == "role_change":
            return f"made {person} {_label(row.after.get('role'))} (was {_label(row.before.get('role'))})", None
        return f"removed {person} from the organization", None
    if row.entity_type == "invitation":
        email = row.get("email") or "someone"
        text = {
            "create": f"invited {email} as {_label(row.after.get('role'))}",
            "resend": f"sent the invitation to {email} again",
            "revoke": f"revoked the invitation to {email}",
            "accept": f"accepted the invitation ({email})",
        }.get(verb, f"changed the invitation to {email}")
        return text, None
    if row.entity_type == "role_assignment":
        person, role = names.user(row.get("user_id")), _label(row.get("role"))
        scope = f" on {names.mission(row.get('mission_id'))}" if row.get("mission_id") else ""
        if verb == "create":
            return f"gave {person} the {role} role{scope}", None
        return f"took the {role} role{scope} from {person}", None
    if row.entity_type == "break_glass":
        text = {
            "request": f"asked for break-glass access as {_label(row.after.get('role'))}",
            "approve": f"approved {names.user(row.after.get('user_id'))}'s break-glass access",
            "deny": "denied a break-glass request",
            "end": "ended break-glass access",
            "review": "reviewed a break-glass session",
        }.get(verb, "changed break-glass access")
        return text, url_for("iam.break_glass")
    if row.action == "catalog.install_reference":
        return "installed the reference catalog", url_for("catalog.home")
    if row.entity_type in ("waste_material", "processing_module", "processing_recipe"):
        kind = {"waste_material": "material", "processing_module": "module", "processing_recipe": "recipe"}
        name = row.get("name") or kind[row.entity_type]
        past = {
            "create": "added the",
            "update": "edited the",
            "delete": "deleted the",
            "restore": "restored the",
            "reset": "reset to reference values the",
            "import": "imported the",
            "maintenance": "logged maintenance on the",
        }
        return f"{past.get(verb, verb)} {kind[row.entity_type]} {name}", None
    if row.entity_type == "organization":
        text = {
            "create": f"created the organization {row.get('name') or ''}".rstrip(),
            "update": "changed the organization's settings" + (f" ({_changed(row)})" if _changed(row) else ""),
            "status_set_by_platform": f"set the organization {_label(row.after.get('status'))} (ClosedLoop staff)",
        }.get(verb, f"{PAST.get(verb, verb)} the organization")
        return text, None
    if row.entity_type in ("role", "api_key"):
        noun = {"role": "the role", "api_key": "the API key"}[row.entity_type]
        name = row.get("name")
        return f"{PAST.get(verb, verb)} {noun}" + (f" “{name}”" if name else ""), None
    if row.entity_type == "system_check":
        href = url_for("ops.check_detail", check_id=entity) if entity else None
        if verb == "reaped":
            return "stopped a system check: no worker answered", href
        return "ran a system check", href
    return f"{_label(verb)} {_label(row.entity_type)}", None


async def recent_activity(session: AsyncSession, org_id: uuid.UUID, limit: int = 12) -> list[ActivityItem]:
    """The organization's newest meaningful changes, as sentences."""
    stmt = (
        select(
            AuditLog.created_at,
            AuditLog.action,
            AuditLog.entity_type,
            AuditLog.entity_id,
            AuditLog.before,
            AuditLog.after,
            AuditLog.metadata_,
            User.name,
            AuditLog.break_glass,
        )
        .outerjoin(User, User.id == AuditLog.actor_user_id)
        .where(AuditLog.organization_id == org_id)
        .where(*[AuditLog.action.not_like(f"{prefix}%") for prefix in QUIET_PREFIXES])
        .order_by(AuditLog.created_at.desc())
        .limit(limit)
    )
    rows = [
        _Row(when, action, kind, eid, before or {}, after or {}, meta or {}, actor, bool(bg))
        for when, action, kind, eid, before, after, meta, actor, bg in (await fetch_rows(session, stmt)).all()
    ]
    names = await _names(session, org_id, rows)
    items = []
    for row in rows:
        text, href = _describe(row, names)
        items.append(ActivityItem(row.when, row.actor or "ClosedLoop", text, href, row.break_glass))
    return items


def _ids(values) -> list[uuid.UUID]:
    found = set()
    for value in values:
        try:
            found.add(uuid.UUID(str(value)))
        except (ValueError, TypeError):
            continue
    return list(found)


async def _names(session: AsyncSession, org_id: uuid.UUID, rows: list[_Row]) -> _Names:
    user_ids = _ids(r.get("user_id") for r in rows)
    run_ids = _ids(r.entity_id for r in rows if r.entity_type == "simulation_run")
    runs = {}
    if run_ids:
        stmt = select(SimulationRun.id, SimulationRun.name, SimulationRun.mission_id).where(
            SimulationRun.organization_id == org_id, SimulationRun.id.in_(run_ids), SimulationRun.deleted_at.is_(None)
        )
        runs = {str(i): (name, m) for i, name, m in (await fetch_rows(session, stmt)).all()}
    mission_ids = _ids(
        [r.entity_id for r in rows if r.entity_type == "mission"]
        + [r.get("mission_id") for r in rows]
        + [m for _, m in runs.values()]
    )
    missions, users = {}, {}
    if mission_ids:
        stmt = select(Mission.id, Mission.name).where(Mission.organization_id == org_id, Mission.id.in_(mission_ids))
        missions = {str(i): name for i, name in (await fetch_rows(session, stmt)).all()}
    if user_ids:
        stmt = select(User.id, User.name).where(User.id.in_(user_ids))
        users = {str(i): name for i, name in (await fetch_rows(session, stmt)).all()}
    return _Names(users, missions, runs)
