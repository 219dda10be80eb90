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
    CHANGE_EMAIL = "change_email"  # sent to the new address; the change happens when it is followed


class SessionKind(StrEnum):
    """How a session was started: a browser cookie, or a JSON login that hands out bearer tokens."""

    BROWSER = "browser"
    API = "api"


class AuthTokenKind(StrEnum):
    """Bearer tokens of an API session: short-lived access tokens and rotating refresh tokens."""

    ACCESS = "access"
    REFRESH = "refresh"
