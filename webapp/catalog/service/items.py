"""Create, edit, delete, restore and reset for any catalog kind, driven by its `Kind` description."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from webapp.catalog.reference import reference_entry
from webapp.catalog.service.common import (
    ITEM_RULES,
    check_version,
    clean_provenance,
    flush_unique_key,
    key_from_name,
    lock_item,
    next_provenance,
    restore,
    soft_delete,
)
from webapp.core import audit
from webapp.core.errors import Conflict, ValidationError
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext
from webapp.core.validation import Tags, choice, clean


@dataclass(frozen=True)
class Kind:
    """One catalog kind: its model, vocabulary and rules."""

    model: type
    entity_type: str  # audit entity type, e.g. waste_material
    what: str  # human name, e.g. "waste material"
    reference_kind: str  # section of the reference catalog
    numbers: tuple[str, ...]  # the numbers that carry provenance
    number_rules: tuple
    choices: dict = field(default_factory=dict)  # field -> (enum, label)
    flags: tuple[str, ...] = ()  # boolean fields
    plain: tuple = ()  # other rules (dates, integers)
    in_use: Callable[[AsyncSession, uuid.UUID], Awaitable[list[str]]] | None = None  # blocks delete
    extra_provenance: tuple[str, ...] = ()  # provenance keys that are not columns (a recipe's lines)

    @property
    def fields(self) -> tuple[str, ...]:
        """Every editable column."""
        return (
            ("key", "name", "description")
            + tuple(self.choices)
            + self.flags
            + tuple(r.field for r in self.plain)
            + self.numbers
        )


def snapshot(kind: Kind, item) -> dict:
    """The editable fields, for audit rows and conflict answers."""
    return {f: getattr(item, f) for f in kind.fields} | {"provenance": item.provenance, "tags": list(item.tags or [])}


def clean_values(kind: Kind, values: dict, *, partial: bool) -> dict:
    """Validated column values (only those sent when `partial`); one 422 names every bad field."""
    errors: dict = {}
    cleaned: dict = {}
    for rules in (ITEM_RULES, kind.number_rules, kind.plain):
        try:
            cleaned |= clean(values, rules, partial=partial)
        except ValidationError as exc:
            errors |= exc.details["fields"]
    for name, (enum_cls, label) in kind.choices.items():
        if not partial or name in values:
            cleaned[name] = choice(values, name, enum_cls, errors, label=label)
    for flag in kind.flags:
        if flag in values:
            cleaned[flag] = bool(values[flag])
    if not partial or "tags" in values:
        tags, error = Tags().check(values.get("tags"))
        if error:
            errors["tags"] = [error]
        else:
            cleaned["tags"] = tags
    if "provenance" in values:
        try:
            cleaned["provenance"] = clean_provenance(values["provenance"], kind.numbers + kind.extra_provenance)
        except ValidationError as exc:
            errors |= exc.details["fields"]
    if partial:  # an edit may not empty a column that must hold a value
        columns = kind.model.__table__.c
        for name, value in cleaned.items():
            if value is None and name in columns and not columns[name].nullable and name not in errors:
                errors[name] = ["Enter a value."]
    if errors:
        raise ValidationError(details={"fields": errors})
    return cleaned


def new_item(kind: Kind, ctx: RequestContext, values: dict):
    """An unsaved row from validated input; the key defaults to one made from the name."""
    values = dict(values)
    if not values.get("key"):
        values["key"] = key_from_name(values.get("name", ""))
    data = clean_values(kind, values, partial=False)
    given = data.pop("provenance", {})
    columns = kind.model.__table__.c
    # an optional number left empty takes the column's default (e.g. moisture 0) instead of NULL
    data = {k: v for k, v in data.items() if v is not None or k not in columns or columns[k].nullable}
    return kind.model(
        id=new_id(), organization_id=ctx.org_id, **data, provenance=next_provenance({}, set(kind.numbers), given)
    )


async def create_item(session: AsyncSession, ctx: RequestContext, kind: Kind, values: dict):
    """Insert a new item and audit it."""
    item = new_item(kind, ctx, values)
    session.add(item)
    await flush_unique_key(session, kind.what)
    await audit.record(
        session,
        ctx,
        f"{kind.entity_type}.create",
        entity_type=kind.entity_type,
        entity_id=item.id,
        after=snapshot(kind, item),
    )
    return item


def apply_changes(kind: Kind, item, data: dict) -> set[str]:
    """Set changed fields; numbers changed without provenance become hand-set estimates. Returns what changed."""
    given = data.pop("provenance", {})
    changed = {f for f, v in data.items() if getattr(item, f) != v}
    for name in changed:
        setattr(item, name, data[name])
    item.provenance = next_provenance(item.provenance, changed & set(kind.numbers), given)
    return changed


async def update_item(
    session: AsyncSession, ctx: RequestContext, kind: Kind, item_id: uuid.UUID, values: dict, *, version: int | None
):
    """Change some fields; a stale `version` is a 409 with the saved values."""
    item = await lock_item(session, kind.model, ctx.org_id, item_id, what=kind.what)
    check_version(item, version, snapshot(kind, item), kind.what)
    data = clean_values(kind, values, partial=True)
    before = snapshot(kind, item)
    apply_changes(kind, item, data)
    if snapshot(kind, item) == before:
        return item
    await flush_unique_key(session, kind.what)
    await audit.record(
        session,
        ctx,
        f"{kind.entity_type}.update",
        entity_type=kind.entity_type,
        entity_id=item.id,
        before=before,
        after=snapshot(kind, item),
    )
    return item


async def delete_item(session: AsyncSession, ctx: RequestContext, kind: Kind, item_id: uuid.UUID):
    """Soft delete; refused while live recipes depend on the item."""
    item = await lock_item(session, kind.model, ctx.org_id, item_id, what=kind.what)
    if kind.in_use and (users := await kind.in_use(session, item.id)):
        raise Conflict(
            f"Recipes still use {item.name}: {', '.join(users)}. Change or delete them first.", {"recipes": users}
        )
    await soft_delete(session, ctx, item, kind.entity_type)
    return item


async def restore_item(session: AsyncSession, ctx: RequestContext, kind: Kind, item_id: uuid.UUID):
    """Undo a delete."""
    item = await lock_item(session, kind.model, ctx.org_id, item_id, deleted=True, what=kind.what)
    await restore(session, ctx, item, kind.entity_type, kind.what)
    return item


def reference_values(kind: Kind, entry: dict) -> dict:
    """Column values of a reference entry (the key stays the organization's own)."""
    values = {f: entry.get(f) for f in kind.fields if f != "key" and f in entry} | {
        f: entry.get(f) for f in kind.numbers
    }
    for name, (enum_cls, _) in kind.choices.items():
        if name in entry:
            values[name] = enum_cls(entry[name])
    return values | {"provenance": dict(entry["provenance"])}


async def reset_item(session: AsyncSession, ctx: RequestContext, kind: Kind, item_id: uuid.UUID):
    """Put back the reference catalog's values and provenance (only for items that came from it)."""
    item = await lock_item(session, kind.model, ctx.org_id, item_id, what=kind.what)
    entry = reference_entry(kind.reference_kind, item.reference_key or "")
    if entry is None:
        raise Conflict(f"This {kind.what} did not come from the reference catalog, so there is nothing to reset to.")
    before = snapshot(kind, item)
    for name, value in reference_values(kind, entry).items():
        setattr(item, name, value)
    if snapshot(kind, item) != before:
        await session.flush()
        await audit.record(
            session,
            ctx,
            f"{kind.entity_type}.reset",
            entity_type=kind.entity_type,
            entity_id=item.id,
            before=before,
            after=snapshot(kind, item),
        )
    return item


def edited_numbers(kind: Kind, item) -> set[str]:
    """Numbers that differ from the reference catalog (the UI marks them)."""
    entry = reference_entry(kind.reference_kind, item.reference_key or "")
    if entry is None:
        return set()
    return {
        f
        for f in kind.numbers
        if (getattr(item, f) is None) != (entry[f] is None)
        or (entry[f] is not None and Decimal(str(getattr(item, f))) != entry[f])
    }
