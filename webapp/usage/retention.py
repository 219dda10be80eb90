"""Retention of raw usage events: whole monthly partitions past `usage.retention_months` are detached (kept as tables
of their own for an operator to archive and drop); the rollups stay, and so do invoices built from them."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from webapp.core.transaction import unit_of_work
from webapp.settings import queries as settings


async def detach_old_events(maker: async_sessionmaker) -> int:
    """Detach the partitions that ended before the retention window; how many were detached."""
    async with unit_of_work(maker) as session:
        months = int(await settings.value_of(session, "usage.retention_months"))
        detached = await session.execute(text("SELECT detach_old_partitions('usage_metered_usage', :m)"), {"m": months})
        return int(detached.scalar_one())
