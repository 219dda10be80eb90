"""Security event kinds and severities."""

from enum import StrEnum


class SecurityEventType(StrEnum):
    """What happened (seed 002 §11: logins, lockouts, MFA, keys, sessions, break-glass)."""

    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    LOGIN_THROTTLED = "login.throttled"
    ACCOUNT_LOCKED = "account.locked"
    ACCOUNT_UNLOCKED = "account.unlocked"
    PASSWORD_CHANGED = "password.changed"
    PASSWORD_RESET_REQUESTED = "password.reset_requested"
    PASSWORD_RESET = "password.reset"
    EMAIL_VERIFIED = "email.verified"
    EMAIL_CHANGE_REQUESTED = "email.change_requested"
    EMAIL_CHANGED = "email.changed"
    ACCOUNT_DEACTIVATED = "account.deactivated"
    MFA_ENROLLED = "mfa.enrolled"
    MFA_DISABLED = "mfa.disabled"
    MFA_FAILED = "mfa.failed"
    MFA_RECOVERY_USED = "mfa.recovery_code_used"
    SESSION_REVOKED = "session.revoked"
    API_KEY_CREATED = "api_key.created"
    API_KEY_USED = "api_key.used"
    API_KEY_REFUSED = "api_key.refused"
    API_KEY_REVOKED = "api_key.revoked"
    TOKEN_REUSE = "token.refresh_reuse"
    BREAK_GLASS_REQUESTED = "break_glass.requested"
    BREAK_GLASS_ACTIVATED = "break_glass.activated"
    BREAK_GLASS_ENDED = "break_glass.ended"
    WEBHOOK_REJECTED = "webhook.rejected"
    SUPPORT_ACCESS_GRANTED = "support_access.granted"
    SUPPORT_ACCESS_REVOKED = "support_access.revoked"
    IMPERSONATION_STARTED = "impersonation.started"
    IMPERSONATION_ENDED = "impersonation.ended"


class Severity(StrEnum):
    """How urgently someone should look."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class IncidentSeverity(StrEnum):
    """SEV1 (worst: customers harmed now) to SEV4 (worth a look)."""

    SEV1 = "sev1"
    SEV2 = "sev2"
    SEV3 = "sev3"
    SEV4 = "sev4"


class IncidentStatus(StrEnum):
    """Where an incident stands (NIST SP 800-61: detect, analyse, contain, recover, close)."""

    OPEN = "open"
    INVESTIGATING = "investigating"
    CONTAINED = "contained"
    RESOLVED = "resolved"
    CLOSED = "closed"
    FALSE_POSITIVE = "false_positive"


ACTIVE_INCIDENT = (IncidentStatus.OPEN, IncidentStatus.INVESTIGATING, IncidentStatus.CONTAINED)
