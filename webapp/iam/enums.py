"""IAM statuses."""

from enum import StrEnum


class BreakGlassStatus(StrEnum):
    """Where a break-glass request stands; "active" is approved and not yet expired or ended."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    CANCELLED = "cancelled"
    ENDED = "ended"
