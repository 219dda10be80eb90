"""Catalog reads: lists per kind (search, filters, sorts, cursor), single items, and what missions need."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.catalog.enums import MaterialCategory, ModuleStatus, ModuleType, module_types_for
from webapp.catalog.models import (
    ModuleMaintenance,
    ProcessingModule,
    Recipe,
    RecipeLine,
    WasteMaterial,
)
from webapp.core.db import fetch_rows
from webapp.core.errors import NotFound
from webapp.core.listing import Listing, by_id, choice, like_pattern, search, tagged
from webapp.core.pagination import Page


@dataclass(frozen=True)
class WasteShare:
    """One material's share of a crew's daily waste."""

    key: str
    name: str
    hazardous: bool
    rate: Decimal  # kg per crew-member-day
    kg_per_day: Decimal  # for the whole crew
    basis: str


async def daily_waste(session: AsyncSession, org_id: uuid.UUID, crew_size: int) -> list[WasteShare]:
    """What `crew_size` people generate per day, per live waste material, largest first."""
    stmt = (
        select(
            WasteMaterial.key,
            WasteMaterial.name,
            WasteMaterial.hazardous,
            WasteMaterial.generation_kg_per_cm_day,
            WasteMaterial.provenance,
        )
        .where(WasteMaterial.organization_id == org_id, WasteMaterial.deleted_at.is_(None))
        .order_by(WasteMaterial.generation_kg_per_cm_day.desc(), WasteMaterial.name)
    )
    shares = []
    for key, name, hazardous, rate, provenance in (await fetch_rows(session, stmt)).all():
        basis = (provenance or {}).get("generation_kg_per_cm_day", {}).get("basis", "estimate")
        shares.append(WasteShare(key, name, hazardous, rate, rate * crew_size, basis))
    return shares


@dataclass(frozen=True)
class ModuleSummary:
    """A module as the mission dashboard lists it."""

    id: uuid.UUID
    key: str
    name: str
    status: ModuleStatus
    hours_per_day: Decimal
    power_kw: Decimal
    recipes: int


async def module_summaries(
    session: AsyncSession, org_id: uuid.UUID, destination: str | None = None
) -> list[ModuleSummary]:
    """Live modules that can work at `destination`, with how many live recipes run on each, available ones first."""
    recipes = (
        select(func.count())
        .select_from(Recipe)
        .where(Recipe.module_id == ProcessingModule.id, Recipe.deleted_at.is_(None))
        .scalar_subquery()
    )
    stmt = (
        select(
            ProcessingModule.id,
            ProcessingModule.key,
            ProcessingModule.name,
            ProcessingModule.status,
            ProcessingModule.hours_per_day,
            ProcessingModule.power_kw,
            recipes,
        )
        .where(
            ProcessingModule.organization_id == org_id,
            ProcessingModule.deleted_at.is_(None),
            ProcessingModule.module_type.in_(module_types_for(destination)),
        )
        .order_by(
            ProcessingModule.status.notin_([ModuleStatus.OPERATIONAL, ModuleStatus.DEGRADED]), ProcessingModule.name
        )
    )
    return [ModuleSummary(*row) for row in (await fetch_rows(session, stmt)).all()]


def _catalog_listing(model, sorts: dict, filters: dict) -> Listing:
    hidden = {"organization_id", "deleted_at"}
    columns = [c for c in model.__table__.c if c.name not in hidden]
    text_match = search(
        lambda p: func.lower(model.name).like(p, escape="\\") | model.key.like(p, escape="\\"),
        like_pattern,
        "Text anywhere in the name or key.",
    )
    return Listing(
        select(*columns).where(model.organization_id == bindparam("org_id"), model.deleted_at.is_(None)),
        id_column=model.id,
        sorts={"name": model.name, "key": model.key, "created_at": model.created_at} | sorts,
        filters={"q": text_match, "tag": tagged(model.tags)} | filters,
        default_sort="name:asc",
    )


LISTINGS = {
    "materials": _catalog_listing(
        WasteMaterial,
        {
            "generation_kg_per_cm_day": WasteMaterial.generation_kg_per_cm_day,
            "density_kg_m3": WasteMaterial.density_kg_m3,
            "category": WasteMaterial.category,
        },
        {"category": choice(MaterialCategory, lambda p: WasteMaterial.category == p)},
    ),
    "modules": _catalog_listing(
        ProcessingModule,
        {
            "status": ProcessingModule.status,
            "power_kw": ProcessingModule.power_kw,
            "throughput_kg_h": ProcessingModule.throughput_kg_h,
            "module_type": ProcessingModule.module_type,
        },
        {
            "status": choice(ModuleStatus, lambda p: ProcessingModule.status == p),
            "module_type": choice(ModuleType, lambda p: ProcessingModule.module_type == p),
        },
    ),
    "recipes": _catalog_listing(
        Recipe,
        {"priority": Recipe.priority, "energy_kwh": Recipe.energy_kwh, "duration_h": Recipe.duration_h},
        {"module_id": by_id(lambda p: Recipe.module_id == p)},
    ),
}


MODELS = {"materials": WasteMaterial, "modules": ProcessingModule, "recipes": Recipe}


async def list_items(
    session: AsyncSession,
    org_id: uuid.UUID,
    kind: str,
    *,
    filters: dict,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 25,
) -> Page:
    """One page of a catalog kind (materials, modules or recipes) as column rows."""
    return await LISTINGS[kind].page(
        session, {"org_id": org_id}, sort=sort, filters=filters, cursor=cursor, limit=limit
    )


async def get_item(session: AsyncSession, org_id: uuid.UUID, kind: str, item_id: uuid.UUID, *, deleted: bool = False):
    """One live (or deleted) item of a kind as a column row; NotFound otherwise."""
    listing, model = LISTINGS[kind], MODELS[kind]
    stmt = select(*listing.base.selected_columns).where(
        model.organization_id == org_id,
        model.id == item_id,
        model.deleted_at.is_not(None) if deleted else model.deleted_at.is_(None),
    )
    row = (await fetch_rows(session, stmt)).one_or_none()
    if row is None:
        raise NotFound(f"No such {'waste material' if kind == 'materials' else kind[:-1]}.")
    return row


async def list_deleted(session: AsyncSession, org_id: uuid.UUID, kind: str, limit: int = 5) -> list:
    """The most recently deleted items of a kind (id, name), for the Restore list."""
    model = MODELS[kind]
    stmt = (
        select(model.id, model.name)
        .where(model.organization_id == org_id, model.deleted_at.is_not(None))
        .order_by(model.deleted_at.desc())
        .limit(limit)
    )
    return list((await fetch_rows(session, stmt)).all())


async def name_map(session: AsyncSession, org_id: uuid.UUID, kind: str) -> dict[uuid.UUID, str]:
    """Live items' names by id (module names for recipe rows, material names for line editors)."""
    model = MODELS[kind]
    stmt = (
        select(model.id, model.name)
        .where(model.organization_id == org_id, model.deleted_at.is_(None))
        .order_by(model.name)
    )
    return dict((await fetch_rows(session, stmt)).all())


@dataclass(frozen=True)
class LineRow:
    """One recipe line with the material's key and name when it is a waste material."""

    recipe_id: uuid.UUID
    direction: str
    material_id: uuid.UUID | None
    material_key: str | None
    material_name: str | None
    resource: str | None
    kg: Decimal
    blend_group: bool = False


async def lines_of(session: AsyncSession, recipe_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[LineRow]]:
    """Lines of several recipes in one query, in their order."""
    if not recipe_ids:
        return {}
    stmt = (
        select(
            RecipeLine.recipe_id,
            RecipeLine.direction,
            RecipeLine.material_id,
            WasteMaterial.key,
            WasteMaterial.name,
            RecipeLine.resource,
            RecipeLine.kg,
            RecipeLine.blend_group,
        )
        .outerjoin(WasteMaterial, WasteMaterial.id == RecipeLine.material_id)
        .where(RecipeLine.recipe_id.in_(recipe_ids))
        .order_by(RecipeLine.recipe_id, RecipeLine.position)
    )
    grouped: dict[uuid.UUID, list[LineRow]] = {r: [] for r in recipe_ids}
    for row in (await fetch_rows(session, stmt)).all():
        grouped[row[0]].append(LineRow(*row))
    return grouped


async def maintenance_log(session: AsyncSession, org_id: uuid.UUID, module_id: uuid.UUID, limit: int = 50) -> list:
    """A module's log entries, newest first, with who recorded them."""
    from webapp.identity.models import User

    stmt = (
        select(
            ModuleMaintenance.id,
            ModuleMaintenance.kind,
            ModuleMaintenance.status_from,
            ModuleMaintenance.status_to,
            ModuleMaintenance.downtime_h,
            ModuleMaintenance.note,
            ModuleMaintenance.performed_at,
            User.name.label("recorded_by_name"),
        )
        .outerjoin(User, User.id == ModuleMaintenance.recorded_by)
        .where(ModuleMaintenance.organization_id == org_id, ModuleMaintenance.module_id == module_id)
        .order_by(ModuleMaintenance.performed_at.desc())
        .limit(limit)
    )
    return list((await fetch_rows(session, stmt)).all())


async def planning_catalog(
    session: AsyncSession, org_id: uuid.UUID, destination: str | None = None
) -> dict[str, list[dict]]:
    """Every live material, module and recipe as plain dicts (recipes with {item key: kg} lines): a run's inputs.
    Modules that cannot work at `destination` are left out, and with them the recipes that need them."""

    def plain(rows, *names) -> list[dict]:
        return [dict(zip(names, row, strict=True)) for row in rows]

    materials = plain(
        (
            await fetch_rows(
                session,
                select(
                    WasteMaterial.id,
                    WasteMaterial.key,
                    WasteMaterial.name,
                    WasteMaterial.category,
                    WasteMaterial.generation_kg_per_cm_day,
                    WasteMaterial.moisture_fraction,
                    WasteMaterial.density_kg_m3,
                    WasteMaterial.hazardous,
                )
                .where(WasteMaterial.organization_id == org_id, WasteMaterial.deleted_at.is_(None))
                .order_by(WasteMaterial.key),
            )
        ).all(),
        "id",
        "key",
        "name",
        "category",
        "generation_kg_per_cm_day",
        "moisture_fraction",
        "density_kg_m3",
        "hazardous",
    )
    modules = plain(
        (
            await fetch_rows(
                session,
                select(
                    ProcessingModule.id,
                    ProcessingModule.key,
                    ProcessingModule.name,
                    ProcessingModule.status,
                    ProcessingModule.hours_per_day,
                    ProcessingModule.power_kw,
                    ProcessingModule.mtbf_h,
                    ProcessingModule.mttr_h,
                    ProcessingModule.spares_kg_per_repair,
                    ProcessingModule.consumables_kg_per_h,
                    ProcessingModule.next_maintenance_due,
                )
                .where(
                    ProcessingModule.organization_id == org_id,
                    ProcessingModule.deleted_at.is_(None),
                    ProcessingModule.module_type.in_(module_types_for(destination)),
                )
                .order_by(ProcessingModule.key),
            )
        ).all(),
        "id",
        "key",
        "name",
        "status",
        "hours_per_day",
        "power_kw",
        "mtbf_h",
        "mttr_h",
        "spares_kg_per_repair",
        "consumables_kg_per_h",
        "next_maintenance_due",
    )
    module_keys = {m["id"]: m["key"] for m in modules}
    recipes = plain(
        (
            await fetch_rows(
                session,
                select(
                    Recipe.id,
                    Recipe.key,
                    Recipe.name,
                    Recipe.module_id,
                    Recipe.priority,
                    Recipe.duration_h,
                    Recipe.energy_kwh,
                    Recipe.crew_h,
                    Recipe.blend_min_share,
                )
                .where(Recipe.organization_id == org_id, Recipe.deleted_at.is_(None))
                .order_by(Recipe.key),
            )
        ).all(),
        "id",
        "key",
        "name",
        "module_id",
        "priority",
        "duration_h",
        "energy_kwh",
        "crew_h",
        "blend_min_share",
    )
    lines = await lines_of(session, [r["id"] for r in recipes])
    for recipe in recipes:
        recipe["module"] = module_keys.get(recipe.pop("module_id"))
        recipe["inputs"] = {
            (ln.material_key or str(ln.resource)): ln.kg for ln in lines[recipe["id"]] if ln.direction == "input"
        }
        recipe["outputs"] = {
            (ln.material_key or str(ln.resource)): ln.kg for ln in lines[recipe["id"]] if ln.direction == "output"
        }
        share = recipe.pop("blend_min_share")
        recipe["blend"] = (
            None
            if share is None
            else {
                "min_share": share,
                "of": [ln.material_key or str(ln.resource) for ln in lines[recipe["id"]] if ln.blend_group],
            }
        )
    # a recipe whose module was deleted (or cannot work here) cannot run: leave it out rather than fail the plan
    recipes = [r for r in recipes if r["module"] is not None]
    for row in materials + modules + recipes:
        row["id"] = str(row["id"])
        for key in ("category", "status"):
            if key in row:
                row[key] = str(row[key])
    return {"materials": materials, "modules": modules, "recipes": recipes}
