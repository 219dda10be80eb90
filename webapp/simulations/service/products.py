"""Product records: record by hand, correct (versioned), delete/restore. Planned products belong to their run."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.catalog.enums import PRODUCT_TYPES, Resource
from webapp.catalog.models import Recipe
from webapp.core import audit
from webapp.core.errors import Conflict, NotFound, ValidationError
from webapp.core.ids import new_id, parse_id
from webapp.core.tenancy import RequestContext
from webapp.core.validation import Moment, Number, Tags, Text, partition
from webapp.missions.models import Mission
from webapp.simulations.enums import ProductKind
from webapp.simulations.models import Product

RULES = (
    Number("quantity_kg", "Quantity", "kg", min_exclusive=True, max=10**9, places=4),
    Moment("produced_at", "Produced"),
    Text("notes", "Notes", max=2000),
    Tags(),
)
FIELDS = ("mission_id", "product_type", "quantity_kg", "produced_at", "recipe_id", "notes", "tags")


def _now() -> datetime:
    return datetime.now(UTC)


def snapshot(product: Product) -> dict:
    """The editable fields, for audit rows and conflict answers."""
    return {f: getattr(product, f) for f in FIELDS} | {"kind": product.kind}


async def _clean(session: AsyncSession, ctx: RequestContext, values: dict, *, partial: bool) -> dict:
    data, errors = partition(values, RULES, partial=partial)
    if "produced_at" in data and data["produced_at"] is None:
        data.pop("produced_at") if partial else data.update(produced_at=_now())
    elif data.get("produced_at") and data["produced_at"] > _now():
        errors["produced_at"] = ["A product cannot be made in the future."]
    if "product_type" in values or not partial:
        try:
            kind = Resource(values.get("product_type"))
            if kind not in PRODUCT_TYPES:
                raise ValueError
            data["product_type"] = kind
        except ValueError:
            errors["product_type"] = [f"Choose one of: {', '.join(p.value for p in PRODUCT_TYPES)}."]
    if "mission_id" in values or not partial:
        mission = parse_id(values.get("mission_id"))
        found = (
            mission
            and (
                await session.execute(
                    select(Mission.id).where(
                        Mission.id == mission, Mission.organization_id == ctx.org_id, Mission.deleted_at.is_(None)
                    )
                )
            ).scalar()
        )
        if not found:
            errors["mission_id"] = ["Choose one of this organization's missions."]
        data["mission_id"] = mission
    if values.get("recipe_id") not in (None, ""):
        recipe = parse_id(values["recipe_id"])
        outputs = (
            recipe
            and (
                await session.execute(
                    select(Recipe.id).where(
                        Recipe.id == recipe, Recipe.organization_id == ctx.org_id, Recipe.deleted_at.is_(None)
                    )
                )
            ).scalar()
        )
        if not outputs:
            errors["recipe_id"] = ["Choose one of this organization's recipes, or none."]
        data["recipe_id"] = recipe
    elif "recipe_id" in values:
        data["recipe_id"] = None
    if errors:
        raise ValidationError(details={"fields": errors})
    return data


async def record_product(session: AsyncSession, ctx: RequestContext, values: dict) -> Product:
    """A product recorded by hand for one mission."""
    data = await _clean(session, ctx, values, partial=False)
    product = Product(
        id=new_id(), organization_id=ctx.org_id, kind=ProductKind.RECORDED, created_by=ctx.user_id, **data
    )
    session.add(product)
    await session.flush()
    await audit.record(
        session, ctx, "product.create", entity_type="product", entity_id=product.id, after=snapshot(product)
    )
    from webapp.simulations.service import webhooks  # it reads this module's snapshot

    await webhooks.product_recorded(session, product)
    return product


async def _lock(session: AsyncSession, ctx: RequestContext, product_id: uuid.UUID, *, deleted: bool = False) -> Product:
    stmt = select(Product).where(
        Product.id == product_id,
        Product.organization_id == ctx.org_id,
        Product.deleted_at.is_not(None) if deleted else Product.deleted_at.is_(None),
    )
    product = (await session.execute(stmt.with_for_update())).scalar_one_or_none()
    if product is None:
        raise NotFound("No such product.")
    return product


async def update_product(
    session: AsyncSession, ctx: RequestContext, product_id: uuid.UUID, values: dict, *, version: int | None
) -> Product:
    """Correct a record; a stale `version` is a 409 with the saved values. Simulation output stays as computed."""
    product = await _lock(session, ctx, product_id)
    if version is not None and version != product.version:
        raise Conflict(
            "This product was changed by someone else first.",
            {"current": snapshot(product) | {"version": product.version}},
        )
    if product.kind == ProductKind.PLANNED:
        raise Conflict("Planned products are part of their simulation run's plan; run the plan again to change it.")
    data = await _clean(session, ctx, values, partial=True)
    before = snapshot(product)
    for name, value in data.items():
        setattr(product, name, value)
    if snapshot(product) != before:
        await session.flush()
        await audit.record(
            session,
            ctx,
            "product.update",
            entity_type="product",
            entity_id=product.id,
            before=before,
            after=snapshot(product),
        )
    return product


async def delete_product(session: AsyncSession, ctx: RequestContext, product_id: uuid.UUID) -> Product:
    """Soft delete a record (restore undoes it); a plan goes with its run."""
    product = await _lock(session, ctx, product_id)
    if product.kind == ProductKind.PLANNED:
        raise Conflict("Planned products are part of their simulation run's plan; delete the run to drop the plan.")
    product.deleted_at = _now()
    await session.flush()
    await audit.record(
        session, ctx, "product.delete", entity_type="product", entity_id=product.id, before=snapshot(product)
    )
    return product


async def restore_product(session: AsyncSession, ctx: RequestContext, product_id: uuid.UUID) -> Product:
    """Undo a delete (refused while its mission is deleted)."""
    product = await _lock(session, ctx, product_id, deleted=True)
    live = (
        await session.execute(select(Mission.id).where(Mission.id == product.mission_id, Mission.deleted_at.is_(None)))
    ).scalar()
    if not live:
        raise Conflict("Restore the product's mission first.")
    product.deleted_at = None
    await session.flush()
    await audit.record(
        session, ctx, "product.restore", entity_type="product", entity_id=product.id, after=snapshot(product)
    )
    return product
