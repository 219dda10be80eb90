"""Mission statuses, destinations and crew roles."""

from enum import StrEnum


class MissionStatus(StrEnum):
    """Where a mission is in its life."""

    PLANNING = "planning"
    ACTIVE = "active"
    COMPLETED = "completed"
    ABORTED = "aborted"


class Destination(StrEnum):
    """Where the crew lives while the waste is made."""

    MOON = "moon"
    MARS = "mars"
    TRANSIT = "transit"


class CrewRole(StrEnum):
    """A person's job on one mission (their organization role is separate)."""

    COMMANDER = "commander"
    PILOT = "pilot"
    FLIGHT_ENGINEER = "flight_engineer"
    SCIENTIST = "scientist"
    MEDICAL_OFFICER = "medical_officer"
    MISSION_SPECIALIST = "mission_specialist"

    @property
    def label(self) -> str:
        """Human name."""
        return self.value.replace("_", " ").capitalize()
