"""Kinds and states of data subject requests."""

from enum import StrEnum


class SubjectRequestType(StrEnum):
    """What the data subject asked for (GDPR Art. 15 access, Art. 17 erasure)."""

    ACCESS = "access"
    DELETION = "deletion"


class SubjectRequestStatus(StrEnum):
    """Where a request is: received → identity_verified → in_progress → completed, or denied / failed / canceled."""

    RECEIVED = "received"  # waiting for the person to prove it is them (an emailed link)
    IDENTITY_VERIFIED = "identity_verified"  # re-authenticated or link followed; a worker takes it next
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    DENIED = "denied"  # staff refused it, with the reason (for example a legal obligation to keep the data)
    FAILED = "failed"  # the worker could not finish; staff can retry
    CANCELED = "canceled"  # the person withdrew it before it started

    @property
    def is_open(self) -> bool:
        """Whether the request still needs an answer."""
        return self in OPEN_STATUSES

    @property
    def label(self) -> str:
        """How people read the state."""
        return self.value.replace("_", " ").capitalize()


OPEN_STATUSES = frozenset(
    {SubjectRequestStatus.RECEIVED, SubjectRequestStatus.IDENTITY_VERIFIED, SubjectRequestStatus.IN_PROGRESS}
)


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


class DataCategory(StrEnum):
    """What kind of personal data a column holds (the records of processing group by it)."""

    IDENTITY = "identity"  # who someone is: name, role in a crew
    CONTACT = "contact"  # how to reach them: email address
    CREDENTIALS = "credentials"  # password hash, second-factor secret
    NETWORK = "network"  # IP address, browser
    CONTENT = "content"  # what they wrote or uploaded
    ACTIVITY = "activity"  # what they did, and when
    PREFERENCES = "preferences"  # settings they chose
    FINANCIAL = "financial"  # payments and invoices
    CONSENT = "consent"  # their decisions about documents


class LawfulBasis(StrEnum):
    """Why the processing is lawful (GDPR Art. 6(1))."""

    CONTRACT = "contract"  # (b)
    LEGAL_OBLIGATION = "legal_obligation"  # (c)
    LEGITIMATE_INTERESTS = "legitimate_interests"  # (f)
    CONSENT = "consent"  # (a)


class ErasureAction(StrEnum):
    """What erasure does to a column of the person's rows."""

    DELETE = "delete"  # the rows go
    ANONYMISE = "anonymise"  # the value is cleared
    PSEUDONYMISE = "pseudonymise"  # the value becomes the person's stable pseudonym
    KEEP = "keep"  # kept under the named legal reason (GDPR Art. 17(3))
