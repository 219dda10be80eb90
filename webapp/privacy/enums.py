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


class PolicyDocument(StrEnum):
    """The documents a person is asked to accept or may opt into."""

    PRIVACY_NOTICE = "privacy_notice"
    TERMS = "terms"
    MARKETING_EMAIL = "marketing_email"
    PRODUCT_ANALYTICS = "product_analytics"


class ConsentDecision(StrEnum):
    """What a person said about one version of a document."""

    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


class ConsentMethod(StrEnum):
    """How the decision was collected (part of what proves it, GDPR Art. 7(1))."""

    SIGNUP = "signup"
    PROMPT = "prompt"  # asked again at sign-in after a new version that needs consent
    SETTINGS = "settings"  # the privacy page
    API = "api"
