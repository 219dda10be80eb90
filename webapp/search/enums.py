"""Re-index job states."""

from enum import StrEnum


class ReindexStatus(StrEnum):
    """queued -> running -> succeeded | failed."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        """No further transitions happen from here."""
        return self in (ReindexStatus.SUCCEEDED, ReindexStatus.FAILED)
