"""Reads for system checks."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.errors import NotFound
from webapp.core.pagination import KeysetQuery, Page
from webapp.ops.models import SystemCheck


async def get_check(session: AsyncSession, org_id: uuid.UUID, check_id: uuid.UUID) -> SystemCheck:
    """A check of the organization; NotFound otherwise (also for other tenants' ids)."""
    stmt = select(SystemCheck).where(SystemCheck.id == check_id, SystemCheck.organization_id == org_id)
    check = (await session.execute(stmt)).scalar_one_or_none()
    if check is None:
        raise NotFound("No such system check.")
    return check


LIST_COLUMNS = (
    SystemCheck.id,
    SystemCheck.organization_id,
    SystemCheck.status,
    SystemCheck.progress,
    SystemCheck.steps,
    SystemCheck.error,
    SystemCheck.attempt,
    SystemCheck.created_at,
    SystemCheck.started_at,
    SystemCheck.finished_at,
)


_CHECK_LIST = KeysetQuery(
    select(*LIST_COLUMNS).where(SystemCheck.organization_id == bindparam("org_id")),
    keys=[SystemCheck.id],
)


async def list_checks(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    cursor: str | None = None,
    limit: int = 25,
) -> Page:
    """Checks of the organization, newest first (UUIDv7 ids follow creation order); column rows, not entities."""
    return await _CHECK_LIST.page(session, {"org_id": org_id}, cursor=cursor, limit=limit)
