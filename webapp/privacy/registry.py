"""The personal-data registry (`personal_data_registry`, kept by migrations): every column holding personal data,
its purpose, lawful basis, retention and what erasure does to it. Export, erasure, retention and the records of
processing read it from here."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.privacy.models import PersonalDataEntry


async def entries(session: AsyncSession) -> list[PersonalDataEntry]:
    """Every registered column, by category, then table and column."""
    stmt = select(PersonalDataEntry).order_by(
        PersonalDataEntry.category, PersonalDataEntry.table_name, PersonalDataEntry.column_name
    )
    return list((await session.execute(stmt)).scalars())


IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
ORGANIZATION_SUBJECT = "organization_id"  # the organization's own records: no person's export or erasure reads them


@dataclass(frozen=True)
class Table:
    """One table of the registry: the column tying rows to a person and its registered columns."""

    name: str
    subject_column: str
    entries: tuple[PersonalDataEntry, ...]

    @property
    def by_email(self) -> bool:
        """Rows tied to a person by their address rather than their id (invitations)."""
        return self.subject_column == "email"

    @property
    def about_people(self) -> bool:
        """Whether rows belong to a person (not to an organization)."""
        return self.subject_column != ORGANIZATION_SUBJECT


def quoted(name: str) -> str:
    """A registry identifier, checked, ready for SQL (names come from migrations, never from requests)."""
    if not IDENTIFIER.match(name):
        raise ValueError(f"not a plain identifier: {name!r}")
    return f'"{name}"'


async def tables(session: AsyncSession) -> list[Table]:
    """The registry grouped by table and subject column (a table may tie different columns to different people:
    an activation's reason to who asked, its review notes to who reviewed)."""
    grouped: dict[tuple[str, str], list[PersonalDataEntry]] = defaultdict(list)
    for entry in await entries(session):
        grouped[(entry.table_name, entry.subject_column)].append(entry)
    return [Table(name, subject, tuple(group)) for (name, subject), group in sorted(grouped.items())]
