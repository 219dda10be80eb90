"""Changing settings: who may (staff the system's, an organization's admins its own, each person theirs), the
value checked by its registry entry, a stale version refused, every change audited with the old and new value."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core import audit
from webapp.core.errors import Conflict, Forbidden, NotFound, ValidationError
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext, enable_rls_bypass
from webapp.settings.enums import SettingScope
from webapp.settings.models import Setting
from webapp.settings.registry import Definition, definition_of


def _owner(scope: SettingScope, ctx: RequestContext) -> dict:
    if scope == SettingScope.SYSTEM:
        return {"organization_id": None, "user_id": None}
    if scope == SettingScope.ORGANIZATION:
        return {"organization_id": ctx.org_id, "user_id": None}
    return {"organization_id": None, "user_id": ctx.user_id}


def _at(scope: SettingScope, key: str, owner: dict) -> tuple:
    """The WHERE of the one row holding `key` at `scope` for `owner`."""
    org_id, user_id = owner["organization_id"], owner["user_id"]
    return (
        Setting.scope == scope,
        Setting.key == key,
        Setting.organization_id.is_(None) if org_id is None else Setting.organization_id == org_id,
        Setting.user_id.is_(None) if user_id is None else Setting.user_id == user_id,
    )


async def _allow(session: AsyncSession, ctx: RequestContext, definition: Definition, scope: SettingScope) -> None:
    if scope not in definition.scopes:
        where = ", ".join(str(s) for s in definition.scopes)
        raise ValidationError.field("scope", f"{definition.label} is set at: {where}.")
    if scope == SettingScope.SYSTEM:
        if not ctx.is_platform_admin or ctx.api_key_id is not None:
            raise Forbidden("Only ClosedLoop staff change platform-wide settings.")
        await enable_rls_bypass(session, reason=f"staff changes the platform setting {definition.key}")
    elif scope == SettingScope.ORGANIZATION:
        if ctx.org_id is None or not ctx.can(definition.org_permission):
            raise Forbidden(details={"missing": [str(definition.org_permission)]})
    elif ctx.user_id is None:
        raise Forbidden("Sign in to change your settings.")


async def set_setting(
    session: AsyncSession,
    ctx: RequestContext,
    key: str,
    raw_value,
    *,
    scope: SettingScope,
    version: int | None = None,
) -> tuple[Setting, bool]:
    """Set a value at `scope` (created, or changed when `version` is current); returns (row, created)."""
    definition = definition_of(key)
    await _allow(session, ctx, definition, scope)
    value = definition.parse(raw_value)
    owner = _owner(scope, ctx)
    stored = (await session.execute(select(Setting.value).where(*_at(scope, key, owner)))).scalar_one_or_none()
    if stored is None or definition.from_json(stored) != value:
        _check(ctx, definition, value)
    # insert-if-absent first, so two people setting the same thing at once queue up on the row's lock instead of
    # one of them meeting the unique index
    inserted = (
        await session.execute(
            pg_insert(Setting)
            .values(id=new_id(), scope=scope, key=key, value=definition.to_json(value), updated_by=ctx.user_id, **owner)
            .on_conflict_do_nothing()
            .returning(Setting.id)
        )
    ).scalar_one_or_none()
    row = (
        await session.execute(
            select(Setting).where(*_at(scope, key, owner)).with_for_update().execution_options(populate_existing=True)
        )
    ).scalar_one()
    if inserted is not None:
        await _audit(session, ctx, row, definition, before=None, after=value)
        return row, True
    return await _change(session, ctx, row, definition, value, version), False


async def update_setting(
    session: AsyncSession, ctx: RequestContext, setting_id: uuid.UUID, raw_value, *, version: int | None
) -> Setting:
    """Change a stored value by id (PATCH /settings/:id); the caller must be allowed at its scope."""
    row = (
        await session.execute(select(Setting).where(Setting.id == setting_id).with_for_update())
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("No such setting.")
    definition = definition_of(row.key)
    if row.scope == SettingScope.USER and row.user_id != ctx.user_id:
        raise NotFound("No such setting.")
    if row.scope == SettingScope.ORGANIZATION and row.organization_id != ctx.org_id:
        raise NotFound("No such setting.")
    await _allow(session, ctx, definition, row.scope)
    return await _change(session, ctx, row, definition, definition.parse(raw_value), version)


async def _change(session, ctx, row: Setting, definition: Definition, value, version: int | None) -> Setting:
    if version is not None and version != row.version:
        raise Conflict(
            f"{definition.label} was changed by someone else first.",
            {"current": {"value": row.value, "version": row.version}},
        )
    before = definition.from_json(row.value)
    if before == value:
        return row
    _check(ctx, definition, value)
    row.value, row.updated_by = definition.to_json(value), ctx.user_id
    await session.flush()
    await _audit(session, ctx, row, definition, before=before, after=value)
    return row


def _check(ctx: RequestContext, definition: Definition, value) -> None:
    problem = definition.check(value, ctx) if definition.check else None
    if problem:
        raise ValidationError.field("value", problem)


async def reset_setting(session: AsyncSession, ctx: RequestContext, key: str, *, scope: SettingScope) -> bool:
    """Remove the value at `scope` (the next scope's, or the default, applies again); True when one was there."""
    definition = definition_of(key)
    await _allow(session, ctx, definition, scope)
    owner = _owner(scope, ctx)
    rows = (await session.execute(select(Setting).where(*_at(scope, key, owner)))).scalars().all()
    for row in rows:
        await session.delete(row)
        await session.flush()
        await _audit(session, ctx, row, definition, before=definition.from_json(row.value), after=None)
    return bool(rows)


async def _audit(session, ctx, row: Setting, definition: Definition, *, before, after) -> None:
    await audit.record(
        session,
        ctx,
        "setting.change",
        entity_type="setting",
        entity_id=row.id,
        before={"key": definition.key, "scope": str(row.scope), "value": before},
        after={"key": definition.key, "scope": str(row.scope), "value": after},
        organization_id=row.organization_id,
    )
