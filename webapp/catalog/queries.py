"""Catalog reads: lists per kind (search, filters, sorts, cursor), single items, and what missions need."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.catalog.enums import ModuleStatus
from webapp.catalog.models import (
    ProcessingModule,
    Recipe,
    WasteMaterial,
)
from webapp.core.db import fetch_rows


@dataclass(frozen=True)
class WasteShare:
    """One material's share of a crew's daily waste."""

    key: str
    name: str
    hazardous: bool
    rate: Decimal          # kg per crew-member-day
    kg_per_day: Decimal    # for the whole crew
    basis: str


async def daily_waste(session: AsyncSession, org_id: uuid.UUID, crew_size: int) -> list[WasteShare]:
    """What `crew_size` people generate per day, per live waste material, largest first."""
    stmt = (select(WasteMaterial.key, WasteMaterial.name, WasteMaterial.hazardous,
                   WasteMaterial.generation_kg_per_cm_day, WasteMaterial.provenance)
            .where(WasteMaterial.organization_id == org_id, WasteMaterial.deleted_at.is_(None))
            .order_by(WasteMaterial.generation_kg_per_cm_day.desc(), WasteMaterial.name))
    shares = []
    for key, name, hazardous, rate, provenance in (await fetch_rows(session, stmt)).all():
        basis = (provenance or {}).get("generation_kg_per_cm_day", {}).get("basis", "estimate")
        shares.append(WasteShare(key, name, hazardous, rate, rate * crew_size, basis))
    return shares


@dataclass(frozen=True)
class ModuleSummary:
    """A module as the mission dashboard lists it."""

    id: uuid.UUID
    key: str
    name: str
    status: ModuleStatus
    hours_per_day: Decimal
    power_kw: Decimal
    recipes: int


async def module_summaries(session: AsyncSession, org_id: uuid.UUID) -> list[ModuleSummary]:
    """Live modules with how many live recipes run on each, available ones first."""
    recipes = (select(func.count()).select_from(Recipe)
               .where(Recipe.module_id == ProcessingModule.id, Recipe.deleted_at.is_(None)).scalar_subquery())
    stmt = (select(ProcessingModule.id, ProcessingModule.key, ProcessingModule.name, ProcessingModule.status,
                   ProcessingModule.hours_per_day, ProcessingModule.power_kw, recipes)
            .where(ProcessingModule.organization_id == org_id, ProcessingModule.deleted_at.is_(None))
            .order_by(ProcessingModule.status.notin_([ModuleStatus.OPERATIONAL, ModuleStatus.DEGRADED]),
                      ProcessingModule.name))
    return [ModuleSummary(*row) for row in (await fetch_rows(session, stmt)).all()]
