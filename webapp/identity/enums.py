"""Identity statuses."""
from enum import StrEnum


class UserStatus(StrEnum):
    """Whether a user may sign in."""

    ACTIVE = "active"
    DEACTIVATED = "deactivated"
