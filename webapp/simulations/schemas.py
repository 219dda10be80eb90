"""JSON shapes of the products API."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class ProductIn(BaseModel):
    """Body of POST /products: a product recorded by hand."""

    model_config = ConfigDict(extra="forbid")

    mission_id: str
    product_type: str = Field(description="brick, filament, water, methane, oxygen, hmc_tile, ...")
    quantity_kg: Decimal
    produced_at: str | None = Field(None, description="ISO 8601 with timezone; default now")
    recipe_id: str | None = None
    notes: str = Field("", max_length=10000)


class ProductPatch(BaseModel):
    """Body of PATCH /products/:id: fields to correct and the version read."""

    model_config = ConfigDict(extra="forbid")

    version: int | None = None
    product_type: str | None = None
    quantity_kg: Decimal | None = None
    produced_at: str | None = None
    recipe_id: str | None = None
    notes: str | None = Field(None, max_length=10000)


class ProductOut(BaseModel):
    """One product."""

    id: str
    mission_id: str
    product_type: str
    quantity_kg: float
    produced_at: datetime
    recipe_id: str | None
    source: str
    simulation_run_id: str | None
    notes: str
    created_at: datetime
    updated_at: datetime
    version: int
