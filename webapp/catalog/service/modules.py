"""Processing modules: the catalog kind description, status changes and the maintenance log."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.catalog.enums import MaintenanceKind, ModuleStatus, ModuleType
from webapp.catalog.models import ModuleMaintenance, ProcessingModule, Recipe
from webapp.catalog.reference import MODULE_NUMBERS
from webapp.catalog.service.common import lock_item, now
from webapp.catalog.service.items import Kind, update_item
from webapp.core import audit
from webapp.core.errors import ValidationError
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext
from webapp.core.validation import Day, Number, Text, choice, clean


async def recipes_on_module(session: AsyncSession, module_id: uuid.UUID) -> list[str]:
    """Names of live recipes that run on this module."""
    stmt = select(Recipe.name).where(Recipe.module_id == module_id, Recipe.deleted_at.is_(None)).order_by(Recipe.name)
    return list((await session.execute(stmt)).scalars())


MODULES = Kind(
    model=ProcessingModule,
    entity_type="processing_module",
    what="processing module",
    reference_kind="modules",
    numbers=MODULE_NUMBERS,
    number_rules=(
        Number("throughput_kg_h", "Throughput", "kg/h", max=100000),
        Number("power_kw", "Power", "kW", max=100000, places=3),
        Number("hours_per_day", "Hours per day", "h", min_exclusive=True, max=24, places=2),
        Number("mtbf_h", "Mean time between failures", "h", min_exclusive=True, max=10**8, required=False, places=1),
        Number("mttr_h", "Mean time to repair", "h", max=10**6, required=False, places=1),
        Number("spares_kg_per_repair", "Spare parts per repair", "kg", max=100000, required=False, places=3),
        Number("consumables_kg_per_h", "Consumables per operating hour", "kg/h", max=1000, required=False, places=4),
    ),
    choices={"module_type": (ModuleType, "a module type"), "status": (ModuleStatus, "a status")},
    plain=(Day("next_maintenance_due", "Next maintenance due"),),
    in_use=recipes_on_module,
)

LOG_RULES = (
    Text("note", "Note", max=2000),
    Number("downtime_h", "Downtime", "h", max=100000, required=False, places=2),
)


async def log_maintenance(
    session: AsyncSession,
    ctx: RequestContext,
    module_id: uuid.UUID,
    values: dict,
    *,
    status: ModuleStatus | str | None = None,
) -> ModuleMaintenance:
    """Append a maintenance log entry; with `status`, also move the module to it (a status_change entry)."""
    module = await lock_item(session, ProcessingModule, ctx.org_id, module_id, what="processing module")
    errors: dict = {}
    kind = choice(values, "kind", MaintenanceKind, errors, label="what happened") if "kind" in values else None
    new_status = choice({"status": status}, "status", ModuleStatus, errors, required=False)
    try:
        data = clean(values, LOG_RULES)
    except ValidationError as exc:
        errors |= exc.details["fields"]
        data = {}
    performed_at = values.get("performed_at")
    if performed_at is not None and not isinstance(performed_at, datetime):
        errors["performed_at"] = ["Send the time as ISO 8601 with a timezone."]
    elif performed_at is not None and (performed_at.tzinfo is None or performed_at > now()):
        errors["performed_at"] = ["Give a past time with its timezone."]
    if kind is None and new_status is None and not errors:
        errors["kind"] = ["Choose what happened."]
    if errors:
        raise ValidationError(details={"fields": errors})
    entry = ModuleMaintenance(
        id=new_id(),
        organization_id=ctx.org_id,
        module_id=module.id,
        kind=kind or MaintenanceKind.STATUS_CHANGE,
        note=data["note"],
        downtime_h=data.get("downtime_h"),
        performed_at=performed_at or now(),
        recorded_by=ctx.user_id,
    )
    before = module.status
    if new_status is not None and new_status != module.status:
        entry.status_from, entry.status_to = module.status, new_status
        module.status = new_status
    session.add(entry)
    await session.flush()
    await audit.record(
        session,
        ctx,
        "processing_module.maintenance",
        entity_type="processing_module",
        entity_id=module.id,
        before={"status": before},
        after={"status": module.status},
        metadata={"kind": entry.kind, "note": entry.note[:200]},
    )
    return entry


async def set_module_status(
    session: AsyncSession, ctx: RequestContext, module_id: uuid.UUID, status: ModuleStatus | str, note: str = ""
) -> ModuleMaintenance:
    """Move a module to another status, logging who, when and why."""
    return await log_maintenance(session, ctx, module_id, {"note": note}, status=status)


async def update_module(
    session: AsyncSession, ctx: RequestContext, module_id: uuid.UUID, values: dict, *, version: int | None
) -> ProcessingModule:
    """Edit a module; a status change goes through the maintenance log so it is never silent."""
    values = dict(values)
    status, note = values.pop("status", None), values.pop("status_note", "")
    module = await update_item(session, ctx, MODULES, module_id, values, version=version)
    if status is not None and status != module.status:
        await set_module_status(session, ctx, module_id, status, note or "changed with the module's details")
    return module
