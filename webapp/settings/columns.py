"""Effective settings as SQL expressions, for the reads that run on every request (the signed-in person's time
zone, an organization's two-factor rule): one column of the query that loads the principal or the membership
instead of a second round trip. Same resolution as webapp.settings.queries: own row -> system row -> default."""

from __future__ import annotations

from sqlalchemy import Boolean, cast, func, literal_column, select
from sqlalchemy.sql import ColumnElement

from webapp.settings.enums import SettingScope
from webapp.settings.models import Setting
from webapp.settings.registry import ORGANIZATION, REGISTRY, SYSTEM, USER


def _text(key: str, scope: SettingScope, *where) -> ColumnElement:
    # key and scope are written into the SQL, not bound (both come from the registry, never from a request): a
    # generic plan of the prepared statement can then still prove the partial unique indexes (WHERE scope = ...)
    return (
        select(Setting.value.op("#>>")(literal_column("'{}'")))
        .where(Setting.key == literal_column(f"'{key}'"), Setting.scope == literal_column(f"'{scope}'"), *where)
        .scalar_subquery()
    )


def effective(key: str, *, user_id=None, org_id=None) -> ColumnElement:
    """The value of `key` for the user (or organization) in the column given, typed like the registry says."""
    definition = REGISTRY[key]
    candidates = []
    if user_id is not None and USER in definition.scopes:
        candidates.append(_text(key, SettingScope.USER, Setting.user_id == user_id))
    if org_id is not None and ORGANIZATION in definition.scopes:
        candidates.append(_text(key, SettingScope.ORGANIZATION, Setting.organization_id == org_id))
    if SYSTEM in definition.scopes:
        candidates.append(_text(key, SettingScope.SYSTEM))
    default = str(definition.default).lower() if definition.kind == "bool" else str(definition.default)
    value = func.coalesce(*candidates, literal_column(f"'{default}'"))
    return cast(value, Boolean) if definition.kind == "bool" else value
