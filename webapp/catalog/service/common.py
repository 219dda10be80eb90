"""What every catalog write shares: rules for key/name/description, provenance, locking, versions, soft delete."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.catalog.enums import Basis
from webapp.core import audit
from webapp.core.errors import Conflict, NotFound, ValidationError
from webapp.core.tenancy import RequestContext
from webapp.core.validation import Text

KEY_PATTERN = r"[a-z][a-z0-9_]{1,47}"
ITEM_RULES = (
    Text(
        "key",
        "Key",
        max=48,
        min=2,
        pattern=KEY_PATTERN,
        hint="2-48 lower-case letters, digits or underscores, starting with a letter, e.g. food_waste.",
    ),
    Text("name", "Name", max=120, min=1),
    Text("description", "Description", max=2000),
)
REF_MAX, NOTE_MAX = 200, 500
HAND_SET = {"basis": Basis.ESTIMATE.value, "note": "set by hand"}


def now() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


def key_from_name(name: str) -> str:
    """A key suggestion from a name: `Food waste` -> `food_waste`."""
    key = re.sub(r"[^a-z0-9]+", "_", (name or "").lower()).strip("_")
    if len(key) < 2 or not key[0].isalpha():  # keys are 2-48 characters starting with a letter
        key = f"item_{key}".strip("_")
    return key[:48].rstrip("_")


def clean_provenance(raw, allowed: tuple[str, ...]) -> dict:
    """Validate `{field: {basis, ref, note}}`; sourced numbers must name their reference."""
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise ValidationError.field("provenance", "Send provenance as an object: {field: {basis, ref, note}}.")
    cleaned, errors = {}, []
    for field, entry in raw.items():
        if field not in allowed:
            errors.append(f"{field}: not a number of this item (choose from {', '.join(allowed)}).")
            continue
        if not isinstance(entry, dict):
            errors.append(f"{field}: send {{basis, ref, note}}.")
            continue
        try:
            basis = Basis(entry.get("basis"))
        except ValueError:
            errors.append(f"{field}: basis must be sourced, derived or estimate.")
            continue
        ref, note = str(entry.get("ref") or "").strip(), str(entry.get("note") or "").strip()
        if basis == Basis.SOURCED and not ref:
            errors.append(f"{field}: a sourced number needs its reference.")
        if len(ref) > REF_MAX or len(note) > NOTE_MAX:
            errors.append(f"{field}: reference at most {REF_MAX} and note at most {NOTE_MAX} characters.")
        cleaned[field] = {"basis": basis.value} | ({"ref": ref} if ref else {}) | ({"note": note} if note else {})
    if errors:
        raise ValidationError(details={"fields": {"provenance": errors}})
    return cleaned


def next_provenance(current: dict, changed: set[str], given: dict) -> dict:
    """Provenance after an edit: what was sent wins; a number changed without one becomes a hand-set estimate."""
    result = dict(current or {})
    for field in changed:
        if field not in given:
            result[field] = dict(HAND_SET)
    result.update(given)
    return result


async def lock_item(
    session: AsyncSession, model, org_id: uuid.UUID, item_id: uuid.UUID, *, deleted: bool = False, what: str = "item"
):
    """The live (or, with deleted=True, the deleted) row of this organization, locked; 404 otherwise."""
    stmt = select(model).where(
        model.id == item_id,
        model.organization_id == org_id,
        model.deleted_at.is_not(None) if deleted else model.deleted_at.is_(None),
    )
    item = (await session.execute(stmt.with_for_update())).scalar_one_or_none()
    if item is None:
        raise NotFound(f"No such {what}.")
    return item


def check_version(item, version: int | None, snapshot: dict, what: str) -> None:
    """409 with the saved values when the caller edited an older version."""
    if version is not None and version != item.version:
        raise Conflict(
            f"This {what} was changed by someone else first.", {"current": snapshot | {"version": item.version}}
        )


async def flush_unique_key(session: AsyncSession, what: str) -> None:
    """Flush; a live item with the same key is a 409 on `key` (the transaction survives)."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        if "org_key_live" in str(exc.orig):
            raise Conflict(
                f"Another {what} already uses this key.",
                {"fields": {"key": ["This key is taken by another live item; pick another."]}},
            ) from exc
        raise


async def soft_delete(session: AsyncSession, ctx: RequestContext, item, entity_type: str) -> None:
    """Mark deleted (restore undoes it) and audit."""
    item.deleted_at = now()
    await session.flush()
    await audit.record(
        session,
        ctx,
        f"{entity_type}.delete",
        entity_type=entity_type,
        entity_id=item.id,
        before={"key": item.key, "name": item.name},
    )


async def restore(session: AsyncSession, ctx: RequestContext, item, entity_type: str, what: str) -> None:
    """Undo a soft delete; refused (409) when another live item took its key meanwhile."""
    item.deleted_at = None
    await flush_unique_key(session, what)
    await audit.record(
        session,
        ctx,
        f"{entity_type}.restore",
        entity_type=entity_type,
        entity_id=item.id,
        after={"key": item.key, "name": item.name},
    )
