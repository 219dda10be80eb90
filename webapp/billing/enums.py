"""Billing's closed vocabularies."""

from enum import StrEnum


class PlanStatus(StrEnum):
    """current: offered now; superseded: an older version subscriptions may still hold; retired: no longer offered."""

    CURRENT = "current"
    SUPERSEDED = "superseded"
    RETIRED = "retired"


class Metric(StrEnum):
    """What usage is counted in (each plan includes some of each and may price what goes beyond)."""

    SIMULATION_RUNS = "simulation_runs"
    MONTE_CARLO_SCENARIOS = "monte_carlo_scenarios"
    STORAGE_GB = "storage_gb"
    API_CALLS = "api_calls"


METRIC_LABELS = {
    Metric.SIMULATION_RUNS: "Simulation runs",
    Metric.MONTE_CARLO_SCENARIOS: "Monte Carlo scenarios",
    Metric.STORAGE_GB: "File storage (GB)",
    Metric.API_CALLS: "API calls",
}
