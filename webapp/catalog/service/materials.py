"""Waste materials: the catalog kind description and the one rule of their own (recipes block deletion)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.catalog.enums import MaterialCategory
from webapp.catalog.models import Recipe, RecipeLine, WasteMaterial
from webapp.catalog.reference import MATERIAL_NUMBERS
from webapp.catalog.service.items import Kind
from webapp.core.validation import Number


async def recipes_using_material(session: AsyncSession, material_id: uuid.UUID) -> list[str]:
    """Names of live recipes with a line on this material."""
    stmt = (
        select(Recipe.name)
        .join(RecipeLine, RecipeLine.recipe_id == Recipe.id)
        .where(RecipeLine.material_id == material_id, Recipe.deleted_at.is_(None))
        .distinct()
        .order_by(Recipe.name)
    )
    return list((await session.execute(stmt)).scalars())


MATERIALS = Kind(
    model=WasteMaterial,
    entity_type="waste_material",
    what="waste material",
    reference_kind="materials",
    numbers=MATERIAL_NUMBERS,
    number_rules=(
        Number("generation_kg_per_cm_day", "Generation rate", "kg per crew-member-day", max=50),
        Number("moisture_fraction", "Moisture", "mass fraction", max=1, required=False),
        Number("density_kg_m3", "Stored density", "kg/m³", min_exclusive=True, max=25000, places=2),
    ),
    choices={"category": (MaterialCategory, "a category")},
    flags=("hazardous",),
    in_use=recipes_using_material,
)
