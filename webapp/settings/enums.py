"""Where a setting's value is set."""

from enum import StrEnum


class SettingScope(StrEnum):
    """system (staff) < organization (its admins) < user (the person): the narrower one wins."""

    SYSTEM = "system"
    ORGANIZATION = "organization"
    USER = "user"
