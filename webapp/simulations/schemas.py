"""JSON shapes of the products and simulation-runs API (the services' rules still decide; these fix the shape)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from webapp.catalog.enums import PRODUCT_TYPES
from webapp.core.openapi import VERSION, Body, TagList, places, whole
from webapp.core.pagination import MAX_LIMIT
from webapp.simulations.engine.power import MAX_PHASE_H
from webapp.simulations.enums import LogLevel, ProductKind, RunStatus, RunType

ProductType = Literal[tuple(p.value for p in PRODUCT_TYPES)]  # type: ignore[valid-type]
Plan = Literal["throughput_optimization", "waste_minimization", "mass_balance"]


class ProductIn(Body):
    """Body of POST /products: a product the crew made, recorded by hand."""

    mission_id: uuid.UUID
    product_type: ProductType
    quantity_kg: float = Field(gt=0, le=10**9, json_schema_extra=places(4))
    produced_at: AwareDatetime | date | None = Field(
        None, description="when it was made; default now (not in the future)"
    )
    recipe_id: uuid.UUID | None = None
    notes: str = Field("", max_length=2000)
    tags: TagList = []


class ProductPatch(Body):
    """Body of PATCH /products/:id: fields to correct and the version read."""

    version: VERSION | None = None
    product_type: ProductType | None = None
    quantity_kg: float | None = Field(None, gt=0, le=10**9, json_schema_extra=places(4))
    produced_at: AwareDatetime | date | None = None
    recipe_id: uuid.UUID | None = None
    notes: str | None = Field(None, max_length=2000)
    tags: TagList | None = None


class ProductOut(BaseModel):
    """One product: recorded (the crew made it) or planned (a simulation run schedules it for that day)."""

    id: uuid.UUID
    mission_id: uuid.UUID
    product_type: ProductType
    quantity_kg: float
    produced_at: datetime = Field(description="when it was made, or the day a plan schedules it")
    recipe_id: uuid.UUID | None
    kind: ProductKind
    simulation_run_id: uuid.UUID | None = Field(description="the run whose plan it is (planned products)")
    notes: str
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    version: int


class SweepAxis(Body):
    """One parameter a trade study sweeps, and its values."""

    parameter: str = Field(
        pattern=r"^(crew_size|energy_budget_kwh_per_day|crew_time_h_per_day|regolith_supply_kg_per_day|"
        r"storage_volume_m3|wet_waste_cap_days|water_recovery_capacity_kg|air_system_capacity_kg|"
        r"propellant_capacity_kg|module:[a-z][a-z0-9_]{1,47})$",
        description="a mission setting, or module:<key> for that module's units side by side (0 leaves it out, "
        "up to 4)",
    )
    values: list[float] = Field(min_length=2, max_length=12, description="distinct values in the setting's range")


class RunConfig(Body):
    """What the engine plans (habitat.md §3.4–3.5); every field has a default."""

    target: ProductType | None = Field(None, description="the product to maximise; default brick")
    time_horizon_days: whole(1, 730) | None = Field(None, description="default 30")
    seed: whole(0, 2**31 - 1) | None = Field(None, description="default: random (kept on the run)")
    resupply_every_days: whole(1, 365) | None = Field(
        None,
        description="cargo waste (packing foam and bubble wrap) arrives with each resupply, on day 1 and every this "
        "many days, that many days' worth at a time (same mean); default: day by day",
    )
    eva_per_week: whole(0, 7) | None = Field(
        None, description="EVA days a week, spread evenly; each adds eva_waste_kg of hygiene waste (give both)"
    )
    eva_waste_kg: float | None = Field(
        None, ge=0, le=20, description="kg of hygiene waste one EVA leaves (absorbent garments, wipes): an estimate"
    )
    eva_random: bool | None = Field(
        None,
        description="monte_carlo with EVA days: each scenario draws the week's EVA days at random (as many a week); "
        "default false (spread evenly)",
    )
    tau: float | None = Field(
        None,
        ge=0,
        le=0.5,
        description="share of the first objective's optimum the second may give up; default 0 (strict lexicographic)",
    )
    scenarios: whole(1, 5000) | None = Field(
        None,
        description="monte_carlo: failure scenarios; default 200 (scenarios × days at most 200,000, 365,000 rolling)",
    )
    plan: Plan | None = Field(
        None, description="monte_carlo: what each scenario re-plans; trade_study: what each combination plans"
    )
    policy: Literal["perfect_information", "rolling_horizon"] | None = Field(
        None,
        description="monte_carlo: perfect_information (default; each scenario re-planned knowing its failures, an "
        "upper bound; scenarios × days ≤ 200,000) or rolling_horizon (re-planned only on what has been seen, a "
        "forecast; ≤ 365,000); either way results also carry the failure-free plan carried on without re-planning",
    )
    generation_cv: float | None = Field(
        None,
        ge=0,
        le=1,
        description="monte_carlo: coefficient of variation of each waste stream's daily amount (gamma, same mean); "
        "default 0 (every day the mean)",
    )
    degraded_share: float | None = Field(
        None,
        ge=0,
        le=1,
        description="monte_carlo: share of failures that are malfunctions rather than outages — the module runs on "
        "at 0.9, 0.75 or 0.5 of its rate (BioSim's low, medium and severe) until repaired; default 0",
    )
    spares_per_module: whole(0, 50) | None = Field(
        None,
        description="monte_carlo: repairs' worth of spare parts carried per module; a module that fails with none "
        "left stays down (or slowed) for the rest of the horizon. Default: as many as needed",
    )
    failure_shape: float | None = Field(
        None,
        ge=0.5,
        le=5,
        description="monte_carlo: Weibull shape β of the time to failure, same mean as the module's MTBF; default 1 "
        "(exponential); above 1 wear-out, below 1 early failures",
    )
    power_profile: Literal["continuous", "lunar"] | None = Field(
        None,
        description="continuous (default): the daily energy budget only; lunar: the budget is generated while lit "
        "(354 h of light, 354 h of dark), nights run on battery_kwh and night_kw; not with the mass_balance policy",
    )
    peak_kw: float | None = Field(
        None, ge=0.01, le=100_000, description="what may run at once, summed from modules' power_kw; default none"
    )
    battery_kwh: float | None = Field(
        None, ge=0, le=1_000_000, description="lunar: storage charged in daylight (90 % round trip), full at the start"
    )
    night_kw: float | None = Field(None, ge=0, le=100_000, description="lunar: continuous power at night; default 0")
    lunar_phase_h: float | None = Field(
        None, ge=0, le=MAX_PHASE_H, description="lunar: hours since sunrise when the run starts; default 0"
    )
    sweep: list[SweepAxis] | None = Field(
        None,
        min_length=1,
        max_length=2,
        description="trade_study: one or two parameters to sweep; every combination (at most 60) is planned with "
        "`plan` and its KPIs recorded",
    )
    against: Literal["waste_processed", "energy"] | None = Field(
        None, description="pareto_sweep: what the target is traded against; default waste_processed"
    )
    points: whole(3, 25) | None = Field(None, description="pareto_sweep: points on the trade-off; default 11")
    whole_batches: bool | None = Field(
        None,
        description="throughput_optimization and waste_minimization: plan whole batches (a MILP up to 30 days, "
        "else the LP rounded and repaired; results.integer says which, with its gap); default false",
    )


class RunIn(Body):
    """Body of POST /missions/:id/simulations."""

    name: str | None = Field(None, min_length=1, max_length=120, description="default: the run type's name")
    run_type: RunType
    config: RunConfig = RunConfig()
    tags: TagList = []


class RunPatch(Body):
    """Body of PATCH /simulation-runs/:id: a run's tags (its inputs and results never change) and the version read."""

    tags: TagList
    version: VERSION | None = None


class RunOut(BaseModel):
    """A simulation run; `results` and `input_snapshot` on GET /simulation-runs/:id only."""

    id: uuid.UUID
    mission_id: uuid.UUID
    name: str
    run_type: RunType
    status: RunStatus
    progress_percent: int = Field(ge=0, le=100)
    message: str
    config: dict[str, Any]
    seed: int
    engine_version: str
    summary: dict[str, Any] | None
    error: str | None
    attempt: int
    rerun_of: uuid.UUID | None
    cancel_requested_at: datetime | None
    tags: list[str]
    version: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    results: dict[str, Any] | None = Field(None, description="per-day series, KPIs, batches (detail only)")
    input_snapshot: dict[str, Any] | None = Field(None, description="the frozen inputs (detail only)")


class LogOut(BaseModel):
    """One line of a run's log."""

    id: uuid.UUID
    attempt: int
    level: LogLevel
    message: str
    progress_percent: int | None
    at: datetime


class LogQuery(BaseModel):
    """Query of GET /simulation-runs/:id/logs."""

    model_config = ConfigDict(extra="ignore")

    after: uuid.UUID | None = Field(None, description="the last line id seen: continue after it")
    limit: int = Field(25, ge=1, le=MAX_LIMIT)
