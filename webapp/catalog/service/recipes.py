"""Recipes: a module, balanced input and output lines, time, energy and crew time per batch."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.catalog.enums import LineDirection, Resource
from webapp.catalog.models import ProcessingModule, Recipe, RecipeLine, WasteMaterial
from webapp.catalog.reference import RECIPE_NUMBERS, reference_entry
from webapp.catalog.service.common import (
    HAND_SET,
    check_version,
    flush_unique_key,
    lock_item,
)
from webapp.catalog.service.items import (
    Kind,
    apply_changes,
    clean_values,
    new_item,
    restore_item,
)
from webapp.catalog.service.items import snapshot as item_snapshot
from webapp.core import audit
from webapp.core.errors import Conflict, ValidationError
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext
from webapp.core.validation import Number, Text

RECIPES = Kind(
    model=Recipe,
    entity_type="processing_recipe",
    what="recipe",
    reference_kind="recipes",
    numbers=RECIPE_NUMBERS,
    number_rules=(
        Number("duration_h", "Duration", "h per batch", min_exclusive=True, max=10000, places=3),
        Number("energy_kwh", "Energy", "kWh per batch", max=100000, places=3),
        Number("crew_h", "Crew time", "crew-h per batch", max=10000, places=3),
    ),
    plain=(Number("priority", "Priority", "", max=1000, places=0),),
    extra_provenance=("lines",),
)
KG = Number("kg", "Mass", "kg per batch", min_exclusive=True, max=100000, places=4)
BLEND_SHARE = Number("blend_min_share", "Blend share", "of a batch", max=1, places=4)
MODULE_ID = Text("module_id", "Module", max=36, min=1)
MAX_LINES = 20


def _parse_lines(raw) -> tuple[list[dict], list[str]]:
    """Lines as {direction, material_id | resource, kg}; shape errors are collected as messages."""
    if not isinstance(raw, list) or not raw:
        return [], ["Give the recipe its input and output lines."]
    if len(raw) > MAX_LINES:
        return [], [f"At most {MAX_LINES} lines."]
    lines, errors = [], []
    for number, line in enumerate(raw, start=1):
        where = f"Line {number}"
        if not isinstance(line, dict):
            errors.append(f"{where}: send {{direction, material_id or resource, kg}}.")
            continue
        try:
            direction = LineDirection(line.get("direction"))
        except ValueError:
            errors.append(f"{where}: direction must be input or output.")
            continue
        material, resource = line.get("material_id") or None, line.get("resource") or None
        if (material is None) == (resource is None):
            errors.append(f"{where}: name either a waste material or a resource, not both.")
            continue
        kg, problem = KG.check(line.get("kg"))
        if problem:
            errors.append(f"{where}: {problem}")
            continue
        parsed = {"direction": direction, "kg": kg, "material_id": None, "resource": None}
        grouped = line.get("blend_group")
        if grouped is not None:  # absent: an input keeps the mark it had (an edit of amounts only)
            if not isinstance(grouped, bool):
                errors.append(f"{where}: blend_group is true or false.")
                continue
            if grouped and direction != LineDirection.INPUT:
                errors.append(f"{where}: only an input counts toward a blend's share.")
                continue
            parsed["blend_group"] = grouped
        if material is not None:
            try:
                parsed["material_id"] = material if isinstance(material, uuid.UUID) else uuid.UUID(str(material))
            except ValueError:
                errors.append(f"{where}: the material id is not valid.")
                continue
        else:
            try:
                parsed["resource"] = Resource(resource)
            except ValueError:
                errors.append(f"{where}: unknown resource {resource!r}.")
                continue
            if parsed["resource"] == Resource.LOSS and direction == LineDirection.INPUT:
                errors.append(f"{where}: loss can only be an output.")
                continue
        lines.append(parsed)
    return lines, errors


def _balance_errors(lines: list[dict]) -> list[str]:
    kg_in = sum((x["kg"] for x in lines if x["direction"] == LineDirection.INPUT), Decimal(0))
    kg_out = sum((x["kg"] for x in lines if x["direction"] == LineDirection.OUTPUT), Decimal(0))
    if not kg_in or not kg_out:
        return ["A recipe needs at least one input and one output."]
    if kg_in != kg_out:
        gap = abs(kg_in - kg_out)
        side = "outputs" if kg_in > kg_out else "inputs"
        return [
            f"Mass does not balance: inputs total {kg_in.normalize():f} kg, outputs {kg_out.normalize():f} kg. "
            f"Add {gap.normalize():f} kg to the {side} (vented gas, ash and lost moisture go to loss) "
            "or change the amounts."
        ]
    seen = set()
    for x in lines:
        ident = (x["direction"], x["material_id"] or x["resource"])
        if ident in seen:
            return ["The same material appears twice on one side; merge those lines."]
        seen.add(ident)
    return []


async def _check_references(session: AsyncSession, org_id: uuid.UUID, module_id, lines: list[dict]) -> dict:
    errors: dict = {}
    module = None
    if module_id is not None:
        try:
            module_uuid = module_id if isinstance(module_id, uuid.UUID) else uuid.UUID(str(module_id))
        except ValueError:
            module_uuid = None
        if module_uuid is not None:
            module = (
                await session.execute(
                    select(ProcessingModule.id).where(
                        ProcessingModule.id == module_uuid,
                        ProcessingModule.organization_id == org_id,
                        ProcessingModule.deleted_at.is_(None),
                    )
                )
            ).scalar_one_or_none()
        if module is None:
            errors["module_id"] = ["Choose one of this organization's processing modules."]
    wanted = {x["material_id"] for x in lines if x["material_id"]}
    if wanted:
        found = set(
            (
                await session.execute(
                    select(WasteMaterial.id).where(
                        WasteMaterial.id.in_(wanted),
                        WasteMaterial.organization_id == org_id,
                        WasteMaterial.deleted_at.is_(None),
                    )
                )
            ).scalars()
        )
        if wanted - found:
            errors["lines"] = ["A line names a waste material that does not exist here (or was deleted)."]
    return errors


async def _clean_lines(session: AsyncSession, org_id: uuid.UUID, module_id, raw_lines, errors: dict) -> list[dict]:
    lines, problems = _parse_lines(raw_lines)
    if not problems:
        problems = _balance_errors(lines)
    if problems:
        errors["lines"] = problems
    errors |= {k: v for k, v in (await _check_references(session, org_id, module_id, lines)).items() if k not in errors}
    return lines


async def load_lines(session: AsyncSession, recipe_id: uuid.UUID) -> list[dict]:
    """A recipe's lines in order, as plain dicts."""
    rows = (
        await session.execute(select(RecipeLine).where(RecipeLine.recipe_id == recipe_id).order_by(RecipeLine.position))
    ).scalars()
    return [
        {"direction": r.direction, "material_id": r.material_id, "resource": r.resource, "kg": r.kg}
        | ({"blend_group": True} if r.blend_group else {})
        for r in rows
    ]


def _line_key(line: dict) -> tuple:
    ident = str(line["material_id"] or line["resource"])
    return (line["direction"], ident, Decimal(str(line["kg"])).normalize(), line.get("blend_group"))


async def snapshot(session: AsyncSession, recipe: Recipe) -> dict:
    """Editable fields and lines, for audit rows and conflict answers."""
    return item_snapshot(RECIPES, recipe) | {
        "module_id": recipe.module_id,
        "blend_min_share": recipe.blend_min_share,
        "lines": await load_lines(session, recipe.id),
    }


def _clean_blend(values: dict, errors: dict) -> tuple[bool, Decimal | None]:
    """(whether `blend_min_share` was sent, its value): a share from 0 to 1, or null for a fixed mix."""
    if "blend_min_share" not in values:
        return False, None
    raw = values["blend_min_share"]
    if raw is None or raw == "":
        return True, None
    value, problem = BLEND_SHARE.check(raw)
    if problem:
        errors["blend_min_share"] = [problem]
    return True, value


async def _check_blend(session: AsyncSession, recipe: Recipe) -> None:
    """A share above 0 needs at least one input that counts toward it (the lines as now written)."""
    if not recipe.blend_min_share:
        return
    await session.flush()
    marked = await session.scalar(
        select(RecipeLine.id).where(RecipeLine.recipe_id == recipe.id, RecipeLine.blend_group).limit(1)
    )
    if marked is None:
        raise ValidationError(
            details={
                "fields": {
                    "blend_min_share": [
                        "Mark the inputs that count toward the blend's share (at least one), or give a share of 0 "
                        "for any mix of the inputs."
                    ]
                }
            }
        )


async def _write_lines(session: AsyncSession, recipe: Recipe, lines: list[dict]) -> None:
    # an input that counted toward the recipe's blend share still does when the lines are written again
    grouped = set(
        (
            await session.execute(
                select(RecipeLine.material_id).where(RecipeLine.recipe_id == recipe.id, RecipeLine.blend_group)
            )
        ).scalars()
    )
    lines = [
        line
        if "blend_group" in line
        else line | {"blend_group": line["direction"] == LineDirection.INPUT and line["material_id"] in grouped}
        for line in lines
    ]
    await session.execute(delete(RecipeLine).where(RecipeLine.recipe_id == recipe.id))
    session.add_all(
        [
            RecipeLine(id=new_id(), organization_id=recipe.organization_id, recipe_id=recipe.id, position=i, **line)
            for i, line in enumerate(lines)
        ]
    )


async def create_recipe(session: AsyncSession, ctx: RequestContext, values: dict) -> Recipe:
    """A new recipe with its lines; refused with a clear message unless the lines balance."""
    errors: dict = {}
    try:
        recipe = new_item(RECIPES, ctx, values | {"priority": values.get("priority", 100)})
    except ValidationError as exc:
        errors |= exc.details["fields"]
        recipe = None
    lines = await _clean_lines(session, ctx.org_id, values.get("module_id"), values.get("lines"), errors)
    _, blend = _clean_blend(values, errors)
    if "module_id" not in values or values.get("module_id") in (None, ""):
        errors["module_id"] = ["Choose the module that runs this recipe."]
    if errors:
        raise ValidationError(details={"fields": errors})
    recipe.module_id = uuid.UUID(str(values["module_id"]))
    recipe.blend_min_share = blend
    recipe.provenance.setdefault("lines", dict(HAND_SET))
    session.add(recipe)
    await flush_unique_key(session, RECIPES.what)
    await _write_lines(session, recipe, lines)
    await _check_blend(session, recipe)
    await session.flush()
    await audit.record(
        session,
        ctx,
        "processing_recipe.create",
        entity_type="processing_recipe",
        entity_id=recipe.id,
        after=await snapshot(session, recipe),
    )
    return recipe


async def update_recipe(
    session: AsyncSession, ctx: RequestContext, recipe_id: uuid.UUID, values: dict, *, version: int | None
) -> Recipe:
    """Change fields and/or replace the lines (all of them, still balanced); stale `version` is a 409."""
    recipe = await lock_item(session, Recipe, ctx.org_id, recipe_id, what=RECIPES.what)
    before = await snapshot(session, recipe)
    check_version(recipe, version, before, RECIPES.what)
    errors: dict = {}
    try:
        data = clean_values(RECIPES, values, partial=True)
    except ValidationError as exc:
        errors |= exc.details["fields"]
        data = {}
    lines = None
    if "lines" in values or "module_id" in values:
        raw = values["lines"] if "lines" in values else before["lines"]
        lines = await _clean_lines(session, ctx.org_id, values.get("module_id", recipe.module_id), raw, errors)
    blend_given, blend = _clean_blend(values, errors)
    if errors:
        raise ValidationError(details={"fields": errors})
    given_lines = data.get("provenance", {}).get("lines")
    apply_changes(RECIPES, recipe, data)
    if "module_id" in values:
        recipe.module_id = uuid.UUID(str(values["module_id"]))
    if lines is not None and sorted(map(_line_key, lines)) != sorted(map(_line_key, before["lines"])):
        await _write_lines(session, recipe, lines)
        recipe.provenance = recipe.provenance | {"lines": given_lines or dict(HAND_SET)}
    if blend_given:
        recipe.blend_min_share = blend
    await _check_blend(session, recipe)
    after = await snapshot(session, recipe)
    if after == before:
        return recipe
    await flush_unique_key(session, RECIPES.what)
    await audit.record(
        session,
        ctx,
        "processing_recipe.update",
        entity_type="processing_recipe",
        entity_id=recipe.id,
        before=before,
        after=await snapshot(session, recipe),
    )
    return recipe


async def restore_recipe(session: AsyncSession, ctx: RequestContext, recipe_id: uuid.UUID) -> Recipe:
    """Undo a delete; refused while its module or one of its materials is deleted."""
    recipe = await lock_item(session, Recipe, ctx.org_id, recipe_id, deleted=True, what=RECIPES.what)
    errors = await _check_references(session, ctx.org_id, recipe.module_id, await load_lines(session, recipe.id))
    if errors:
        raise Conflict("Restore the recipe's module and waste materials first.", {"fields": errors})
    return await restore_item(session, ctx, RECIPES, recipe_id)


def reference_lines(entry: dict, materials_by_key: dict[str, uuid.UUID]) -> list[dict]:
    """A reference recipe's lines with the organization's material ids."""
    lines = []
    group = set((entry.get("blend") or {}).get("of") or ())
    for direction, side in ((LineDirection.INPUT, "inputs"), (LineDirection.OUTPUT, "outputs")):
        for line in entry[side]:
            material = line.get("material")
            lines.append(
                {
                    "direction": direction,
                    "kg": line["kg"],
                    "material_id": materials_by_key[material] if material else None,
                    "resource": Resource(line["resource"]) if "resource" in line else None,
                    "blend_group": direction == LineDirection.INPUT and material in group,
                }
            )
    return lines


def reference_blend_share(entry: dict) -> Decimal | None:
    """The reference recipe's blend share (None: its inputs keep their fixed ratio)."""
    blend = entry.get("blend")
    return None if blend is None else Decimal(str(blend["min_share"]))


async def reset_recipe(session: AsyncSession, ctx: RequestContext, recipe_id: uuid.UUID) -> Recipe:
    """Put back the reference values, lines and module (found by their reference keys)."""
    recipe = await lock_item(session, Recipe, ctx.org_id, recipe_id, what=RECIPES.what)
    entry = reference_entry("recipes", recipe.reference_key or "")
    if entry is None:
        raise Conflict("This recipe did not come from the reference catalog, so there is nothing to reset to.")
    materials = dict(
        (
            await session.execute(
                select(WasteMaterial.reference_key, WasteMaterial.id).where(
                    WasteMaterial.organization_id == ctx.org_id,
                    WasteMaterial.deleted_at.is_(None),
                    WasteMaterial.reference_key.is_not(None),
                )
            )
        ).all()
    )
    module = (
        (
            await session.execute(
                select(ProcessingModule.id).where(
                    ProcessingModule.organization_id == ctx.org_id,
                    ProcessingModule.deleted_at.is_(None),
                    ProcessingModule.reference_key == entry["module"],
                )
            )
        )
        .scalars()
        .first()
    )
    needed = {line["material"] for line in entry["inputs"] + entry["outputs"] if "material" in line}
    if module is None or needed - set(materials):
        missing = sorted(needed - set(materials)) + ([entry["module"]] if module is None else [])
        raise Conflict(
            f"Reset needs the reference items {', '.join(missing)}; restore or reset them first.", {"missing": missing}
        )
    before = await snapshot(session, recipe)
    for name in ("name", "description", "priority") + RECIPE_NUMBERS:
        setattr(recipe, name, entry[name])
    recipe.provenance = dict(entry["provenance"])
    recipe.blend_min_share = reference_blend_share(entry)
    recipe.module_id = module
    await _write_lines(session, recipe, reference_lines(entry, materials))
    await session.flush()
    after = await snapshot(session, recipe)
    if after != before:
        await audit.record(
            session,
            ctx,
            "processing_recipe.reset",
            entity_type="processing_recipe",
            entity_id=recipe.id,
            before=before,
            after=after,
        )
    return recipe
