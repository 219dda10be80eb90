"""The personal-data registry (`personal_data_registry`, kept by migrations): every column holding personal data,
its purpose, lawful basis, retention and what erasure does to it. Export, erasure, retention and the records of
processing read it from here."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.privacy.models import PersonalDataEntry


async def entries(session: AsyncSession) -> list[PersonalDataEntry]:
    """Every registered column, by category, then table and column."""
    stmt = select(PersonalDataEntry).order_by(
        PersonalDataEntry.category, PersonalDataEntry.table_name, PersonalDataEntry.column_name
    )
    return list((await session.execute(stmt)).scalars())
