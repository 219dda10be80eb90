"""The API's answers as typed dictionaries (JSON as it arrives: ids and times are strings). Each names the OpenAPI
component it mirrors in SCHEMAS; the server's test suite compares their keys with the live document, so a field
added, renamed or dropped on one side fails there."""

from typing import Any, Generic, Literal, NotRequired, TypedDict, TypeVar, get_args

T = TypeVar("T")

RunType = Literal[
    "mass_balance", "throughput_optimization", "waste_minimization", "monte_carlo", "trade_study", "pareto_sweep"
]
RUN_TYPES = get_args(RunType)
RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})


class Tokens(TypedDict):
    """POST /auth/login and /auth/refresh: a bearer pair bound to one organization."""

    token_type: NotRequired[Literal["Bearer"]]
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    session_id: str
    organization_id: str


class Organization(TypedDict):
    """One of the caller's organizations (GET /organizations)."""

    id: str
    slug: str
    name: str
    status: str
    require_mfa: bool
    role: NotRequired[str | None]
    members: NotRequired[int | None]
    created_at: NotRequired[str | None]


class MissionSettings(TypedDict):
    """A mission's daily budgets and targets (null: not set)."""

    recycle_target_kg_per_day: float | None
    energy_budget_kwh_per_day: float | None
    crew_time_h_per_day: float | None
    regolith_supply_kg_per_day: float | None
    storage_volume_m3: float | None
    wet_waste_cap_days: float | None
    water_recovery_capacity_kg: float | None
    water_recovery_drain_kg_per_day: float | None
    air_system_capacity_kg: float | None
    air_system_drain_kg_per_day: float | None
    propellant_capacity_kg: float | None


class Mission(TypedDict):
    """A mission; `crew` only with embed=crew."""

    id: str
    name: str
    description: str
    status: str
    destination: str
    crew_size: int
    launch_date: str | None
    landing_date: str | None
    settings: MissionSettings
    tags: list[str]
    created_at: str
    updated_at: str
    version: int
    crew: NotRequired[list[dict[str, Any]] | None]


class Run(TypedDict):
    """A simulation run; `results` and `input_snapshot` on GET /simulation-runs/:id only."""

    id: str
    mission_id: str
    name: str
    run_type: RunType
    status: RunStatus
    progress_percent: int
    message: str
    config: dict[str, Any]
    seed: int
    engine_version: str
    summary: dict[str, Any] | None
    error: str | None
    attempt: int
    rerun_of: str | None
    cancel_requested_at: str | None
    tags: list[str]
    version: int
    created_at: str
    started_at: str | None
    finished_at: str | None
    results: NotRequired[dict[str, Any] | None]
    input_snapshot: NotRequired[dict[str, Any] | None]


class RunState(TypedDict):
    """One `state` event of GET /simulations/:id/subscribe: the run's progress as it changes."""

    id: str
    mission_id: str
    org_id: str
    status: RunStatus
    progress: int
    message: str
    attempt: int
    error: str | None
    finished: bool
    cancelling: bool
    logs: list[dict[str, Any]]


class LogLine(TypedDict):
    """A line of a run's log."""

    id: str
    attempt: int
    level: str
    message: str
    progress_percent: int | None
    at: str


class Product(TypedDict):
    """A product: recorded by the crew, or planned by a simulation run for the day it names."""

    id: str
    mission_id: str
    product_type: str
    quantity_kg: float
    produced_at: str
    recipe_id: str | None
    kind: Literal["recorded", "planned"]
    simulation_run_id: str | None
    notes: str
    tags: list[str]
    created_at: str
    updated_at: str
    version: int


class Page(TypedDict, Generic[T]):
    """A cursor-paged list: pass `next_cursor` back as `cursor` until it is null."""

    items: list[T]
    next_cursor: str | None


class Items(TypedDict, Generic[T]):
    """A whole list in one answer."""

    items: list[T]


# the OpenAPI component each type mirrors (RunState is the stream's event, documented in prose, not a component)
SCHEMAS: dict[type, str] = {
    Tokens: "TokensOut",
    Organization: "OrganizationListed",
    MissionSettings: "MissionSettingsOut",
    Mission: "MissionOut",
    Run: "RunOut",
    LogLine: "LogOut",
    Product: "ProductOut",
}
