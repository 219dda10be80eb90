"""CSV import of waste materials and processing modules: every row is checked before anything is written, and
either all rows land (new keys are created, existing keys updated) or none do, with each problem named by
row and column."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.catalog.service.common import flush_unique_key, key_from_name
from webapp.catalog.service.items import (
    Kind,
    apply_changes,
    clean_values,
    new_item,
    snapshot,
)
from webapp.catalog.service.modules import MODULES, set_module_status
from webapp.core import audit
from webapp.core.errors import ValidationError
from webapp.core.tenancy import RequestContext

TRUE, FALSE = {"true", "yes", "y", "1", "x"}, {"false", "no", "n", "0", ""}


def columns(kind: Kind) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(required, allowed) CSV columns of a kind; the export writes the allowed ones, so it imports back."""
    required = ("name",) + tuple(kind.choices) + tuple(r.field for r in kind.number_rules if r.required)
    required = tuple(c for c in required if c != "status")  # a module without a status starts operational
    return required, ("key",) + tuple(f for f in kind.fields if f != "key")


@dataclass(frozen=True)
class ImportResult:
    """What an import did."""

    created: list[str]
    updated: list[str]
    unchanged: int


def _row_values(kind: Kind, row: dict, problems: list[dict], line: int) -> dict:
    """A CSV row as service values: flags parsed, empty optional cells left to the column default."""
    values = {name: cell for name, cell in row.items() if cell != "" or name in ("key", "name")}
    for flag in kind.flags:
        cell = row.get(flag, "").strip().lower()
        if cell not in TRUE | FALSE:
            problems.append({"row": line, "column": flag, "message": "Write yes or no."})
        values[flag] = cell in TRUE
    if not values.get("key"):
        values["key"] = key_from_name(values.get("name", ""))
    return values


def _for_new_item(kind: Kind, values: dict) -> dict:
    """A module row without a status makes an operational module (an existing one keeps its status)."""
    if "status" in kind.choices and not values.get("status"):
        return values | {"status": "operational"}
    return values


async def import_rows(session: AsyncSession, ctx: RequestContext, kind: Kind, rows: list[dict]) -> ImportResult:
    """Create or update one item per row (matched by key); a 422 listing every row problem changes nothing."""
    problems: list[dict] = []
    cleaned: list[tuple[int, dict]] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        values = _row_values(kind, row, problems, line)
        try:
            data = clean_values(kind, _for_new_item(kind, values), partial=False)
        except ValidationError as exc:
            problems += [
                {"row": line, "column": col, "message": " ".join(map(str, msgs))}
                for col, msgs in exc.details["fields"].items()
            ]
            continue
        if data["key"] in seen:
            problems.append(
                {
                    "row": line,
                    "column": "key",
                    "message": f"The key {data['key']} is already on row {seen[data['key']]}.",
                }
            )
            continue
        seen[data["key"]] = line
        cleaned.append((line, values))
    if problems:
        raise ValidationError(
            f"Nothing was imported: {len(problems)} problem(s) in the file.",
            {"rows": sorted(problems, key=lambda p: (p["row"], p["column"]))},
        )
    existing = {
        item.key: item
        for item in (
            await session.execute(
                select(kind.model)
                .where(
                    kind.model.organization_id == ctx.org_id,
                    kind.model.deleted_at.is_(None),
                    kind.model.key.in_(list(seen)),
                )
                .with_for_update()
            )
        ).scalars()
    }
    created, updated, unchanged = [], [], 0
    async with session.begin_nested():  # a failure below undoes every row, not just the last
        for _line, values in cleaned:
            item = existing.get(values["key"])
            if item is None:
                item = new_item(kind, ctx, _for_new_item(kind, values))
                session.add(item)
                await session.flush()
                created.append(item.key)
                await audit.record(
                    session,
                    ctx,
                    f"{kind.entity_type}.import",
                    entity_type=kind.entity_type,
                    entity_id=item.id,
                    after=snapshot(kind, item),
                )
                continue
            data = clean_values(kind, values, partial=True)
            status = data.pop("status", None) if kind is MODULES else None
            before = snapshot(kind, item)
            apply_changes(kind, item, data)
            if status is not None and status != item.status:
                await set_module_status(session, ctx, item.id, status, "changed by CSV import")
            if snapshot(kind, item) == before:
                unchanged += 1
                continue
            updated.append(item.key)
            await audit.record(
                session,
                ctx,
                f"{kind.entity_type}.import",
                entity_type=kind.entity_type,
                entity_id=item.id,
                before=before,
                after=snapshot(kind, item),
            )
        await flush_unique_key(session, kind.what)
    return ImportResult(created, updated, unchanged)
