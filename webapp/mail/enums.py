"""Outbox statuses."""

from enum import StrEnum


class EmailStatus(StrEnum):
    """queued -> sent | failed; `kept` when no SMTP server is configured (dev outbox only); `withheld` when the
    consent an email needs (product news) was withdrawn before it went out."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    KEPT = "kept"
    WITHHELD = "withheld"
