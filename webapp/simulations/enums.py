"""Kinds and statuses of the simulations domain: products, runs and their log lines."""

from enum import StrEnum


class ProductKind(StrEnum):
    """A record of what the crew made, or what a simulation run plans for a day (never counted as made)."""

    RECORDED = "recorded"
    PLANNED = "planned"

    @property
    def label(self) -> str:
        """Human name."""
        return {"recorded": "Recorded", "planned": "Planned"}[self.value]


class RunType(StrEnum):
    """What a simulation run plans (habitat.md §3.4–3.5)."""

    MASS_BALANCE = "mass_balance"
    THROUGHPUT_OPTIMIZATION = "throughput_optimization"
    WASTE_MINIMIZATION = "waste_minimization"
    MONTE_CARLO = "monte_carlo"
    TRADE_STUDY = "trade_study"
    PARETO_SWEEP = "pareto_sweep"

    @property
    def label(self) -> str:
        """Human name."""
        return {
            "mass_balance": "Mass balance (fixed policy)",
            "throughput_optimization": "Maximise a product",
            "waste_minimization": "Minimise stored waste",
            "monte_carlo": "Monte Carlo failures",
            "trade_study": "Trade study (sweep parameters)",
            "pareto_sweep": "Pareto sweep (trade-off)",
        }[self.value]


class RunStatus(StrEnum):
    """queued → running → succeeded | failed | cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        """Whether the run will not change any more."""
        return self in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


class LogLevel(StrEnum):
    """Severity of a run's log line."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
