"""System-check states."""

from enum import StrEnum


class CheckStatus(StrEnum):
    """queued -> running -> succeeded | failed."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        """No further transitions happen from here."""
        return self in (CheckStatus.SUCCEEDED, CheckStatus.FAILED)


class StepName(StrEnum):
    """What a system check can examine, in the order it runs them."""

    POSTGRES = "postgres"
    REDIS = "redis"
    WORKER = "worker"
    SCHEDULER = "scheduler"
