"""Reading settings: the effective value of each (user -> organization -> system -> default) and where it comes
from, for pages, the API and the code that acts on them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.errors import NotFound
from webapp.settings.enums import SettingScope
from webapp.settings.models import Setting
from webapp.settings.registry import REGISTRY, Definition, definitions

ORDER = (SettingScope.USER, SettingScope.ORGANIZATION, SettingScope.SYSTEM)


@dataclass
class Resolved:
    """A setting as one person (or organization) gets it."""

    definition: Definition
    value: Any
    source: str  # "user", "organization", "system" or "default"
    rows: dict[str, Setting]  # the rows that exist, by scope (their ids and versions)

    @property
    def own(self) -> Setting | None:
        """The row at the narrowest scope that was asked about (what a form edits)."""
        return next(iter(self.rows.values()), None)


async def _rows(session: AsyncSession, keys, org_id, user_id) -> list[Setting]:
    where = [Setting.scope == SettingScope.SYSTEM]
    if org_id is not None:
        where.append(and_(Setting.scope == SettingScope.ORGANIZATION, Setting.organization_id == org_id))
    if user_id is not None:
        where.append(and_(Setting.scope == SettingScope.USER, Setting.user_id == user_id))
    stmt = select(Setting).where(Setting.key.in_(list(keys)), or_(*where))
    return list((await session.execute(stmt)).scalars())


async def resolve(
    session: AsyncSession, defs: list[Definition], *, org_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None
) -> list[Resolved]:
    """Effective values of `defs` for a user in an organization (either may be None), with their sources."""
    found: dict[str, dict[str, Setting]] = {}
    for row in await _rows(session, [d.key for d in defs], org_id, user_id):
        found.setdefault(row.key, {})[str(row.scope)] = row
    out = []
    for definition in defs:
        rows = found.get(definition.key, {})
        ordered = {str(s): rows[str(s)] for s in ORDER if str(s) in rows}
        source = next(iter(ordered), "default")
        value = definition.from_json(ordered[source].value) if source != "default" else definition.default
        out.append(Resolved(definition, value, source, ordered))
    return out


async def for_scope(session: AsyncSession, scope: SettingScope, *, org_id=None, user_id=None) -> list[Resolved]:
    """Every setting that may be set at `scope`, resolved as seen from there (a user's page does not fall back to
    an organization's value unless that scope exists for the setting)."""
    return await resolve(session, definitions(scope), org_id=org_id, user_id=user_id)


async def value_of(session: AsyncSession, key: str, *, org_id=None, user_id=None) -> Any:
    """One effective value."""
    return (await resolve(session, [REGISTRY[key]], org_id=org_id, user_id=user_id))[0].value


async def values_of(session: AsyncSession, keys: list[str], *, org_id=None, user_id=None) -> dict[str, Any]:
    """Several effective values, in one read."""
    resolved = await resolve(session, [REGISTRY[k] for k in keys], org_id=org_id, user_id=user_id)
    return {r.definition.key: r.value for r in resolved}


async def get_row(session: AsyncSession, setting_id: uuid.UUID) -> Setting:
    """A stored value the caller may see (RLS decides: the system's, their organization's, their own)."""
    row = (await session.execute(select(Setting).where(Setting.id == setting_id))).scalar_one_or_none()
    if row is None or row.key not in REGISTRY:
        raise NotFound("No such setting.")
    return row
