"""Kinds and states of data subject requests."""

from enum import StrEnum


class SubjectRequestType(StrEnum):
    """What the data subject asked for (GDPR Art. 15 access, Art. 17 erasure)."""

    ACCESS = "access"
    DELETION = "deletion"


class SubjectRequestStatus(StrEnum):
    """Where a request is in the privacy workflow."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REJECTED = "rejected"
