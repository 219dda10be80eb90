"""Outbox statuses."""

from enum import StrEnum


class EmailStatus(StrEnum):
    """queued -> sent | failed; `kept` when no SMTP server is configured (dev outbox only)."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    KEPT = "kept"
