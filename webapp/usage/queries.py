"""Reads of credits: the account, open holds, the ledger page by page."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.pagination import Page, paginate
from webapp.usage.enums import HoldStatus
from webapp.usage.models import CreditEntry, CreditHold


async def open_holds(session: AsyncSession, org_id: uuid.UUID) -> list[CreditHold]:
    """Holds not resolved yet, newest first."""
    stmt = (
        select(CreditHold)
        .where(CreditHold.organization_id == org_id, CreditHold.status == HoldStatus.HELD)
        .order_by(CreditHold.created_at.desc())
        .limit(200)
    )
    return list((await session.execute(stmt)).scalars())


async def list_entries(
    session: AsyncSession, org_id: uuid.UUID, *, cursor: str | None = None, limit: int = 25
) -> Page[CreditEntry]:
    """The ledger, newest first, one page after `cursor`."""
    stmt = select(CreditEntry).where(CreditEntry.organization_id == org_id)
    return await paginate(session, stmt, keys=[CreditEntry.created_at, CreditEntry.id], cursor=cursor, limit=limit)
