"""Organization statuses."""

from enum import StrEnum


class OrgStatus(StrEnum):
    """Lifecycle of a tenant (seed 002 fix: an enum, not free text)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    ARCHIVED = "archived"
