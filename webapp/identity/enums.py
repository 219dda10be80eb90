"""Identity statuses."""
from enum import StrEnum


class UserStatus(StrEnum):
    """Whether a user may sign in."""

    ACTIVE = "active"
    DEACTIVATED = "deactivated"


class TokenPurpose(StrEnum):
    """What a single-use emailed link is for."""

    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"
    UNLOCK_ACCOUNT = "unlock_account"
