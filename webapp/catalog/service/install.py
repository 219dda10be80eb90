"""Give an organization the reference catalog (10 waste materials, 8 modules, 10 recipes) with provenance."""

from __future__ import annotations

import uuid

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.catalog.enums import MaterialCategory, ModuleType
from webapp.catalog.models import ProcessingModule, Recipe, RecipeLine, WasteMaterial
from webapp.catalog.reference import (
    MATERIAL_NUMBERS,
    MODULE_NUMBERS,
    RECIPE_NUMBERS,
    reference_catalog,
)
from webapp.catalog.service.recipes import reference_blend_share, reference_lines
from webapp.core import audit
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext
from webapp.search import service as search


def _row(org_id: uuid.UUID, entry: dict, fields: tuple[str, ...]) -> dict:
    return {
        "id": new_id(),
        "organization_id": org_id,
        "key": entry["key"],
        "reference_key": entry["key"],
        "name": entry["name"],
        "description": entry.get("description", ""),
        "provenance": entry["provenance"],
    } | {f: entry[f] for f in fields}


async def install_reference_catalog(session: AsyncSession, ctx: RequestContext | None, org_id: uuid.UUID) -> dict:
    """Insert the whole reference catalog for `org_id` (the session is scoped to it); returns the counts."""
    catalog = reference_catalog()
    materials = [
        _row(org_id, m, MATERIAL_NUMBERS) | {"category": MaterialCategory(m["category"]), "hazardous": m["hazardous"]}
        for m in catalog["materials"]
    ]
    modules = [
        _row(org_id, m, MODULE_NUMBERS) | {"module_type": ModuleType(m["module_type"])} for m in catalog["modules"]
    ]
    module_ids = {m["key"]: m["id"] for m in modules}
    material_ids = {m["key"]: m["id"] for m in materials}
    recipes, lines = [], []
    for entry in catalog["recipes"]:
        recipe = _row(org_id, entry, RECIPE_NUMBERS) | {
            "module_id": module_ids[entry["module"]],
            "priority": entry["priority"],
            "blend_min_share": reference_blend_share(entry),
        }
        recipes.append(recipe)
        lines += [
            line | {"id": new_id(), "organization_id": org_id, "recipe_id": recipe["id"], "position": i}
            for i, line in enumerate(reference_lines(entry, material_ids))
        ]
    for model, rows in (
        (WasteMaterial, materials),
        (ProcessingModule, modules),
        (Recipe, recipes),
        (RecipeLine, lines),
    ):
        await session.execute(insert(model), rows)
    # a bulk insert passes by the ORM's flush, which keeps the search index for single writes
    for kind, rows in (
        ("waste-materials", materials),
        ("processing-modules", modules),
        ("processing-recipes", recipes),
    ):
        await search.refresh(session, kind, [r["id"] for r in rows])
    counts = {"materials": len(materials), "modules": len(modules), "recipes": len(recipes)}
    await audit.record(
        session,
        ctx,
        "catalog.install_reference",
        entity_type="organization",
        entity_id=org_id,
        after=counts,
        organization_id=org_id,
    )
    return counts
