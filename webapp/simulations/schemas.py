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
    kind: str
    simulation_run_id: str | None
    notes: str
    created_at: datetime
    updated_at: datetime
    version: int


class RunIn(BaseModel):
    """Body of POST /missions/:id/simulations."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=120)
    run_type: str = Field(description="mass_balance, throughput_optimization, waste_minimization or monte_carlo")
    config: dict = Field(default_factory=dict, description=(
        "target (a product, default brick), time_horizon_days (1-730, default 30), seed, tau (0-0.5, default "
        "0.02); monte_carlo also scenarios (1-5000, default 200) and plan (the objective each scenario re-plans)"))
