"""Product reads: per-mission totals now; lists arrive with the products pages."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.catalog.enums import Resource
from webapp.core.db import fetch_rows
from webapp.simulations.models import Product


@dataclass(frozen=True)
class ProductTotal:
    """How much of one product type a mission has recorded."""

    product_type: Resource
    records: int
    kg: Decimal


async def product_totals(session: AsyncSession, org_id: uuid.UUID, mission_id: uuid.UUID) -> list[ProductTotal]:
    """Live products of a mission summed by type, heaviest first."""
    stmt = (select(Product.product_type, func.count(), func.sum(Product.quantity_kg))
            .where(Product.organization_id == org_id, Product.mission_id == mission_id, Product.deleted_at.is_(None))
            .group_by(Product.product_type).order_by(func.sum(Product.quantity_kg).desc()))
    return [ProductTotal(*row) for row in (await fetch_rows(session, stmt)).all()]
