"""Where a product record came from."""
from enum import StrEnum


class ProductSource(StrEnum):
    """Recorded by a person, or written by a simulation run."""

    MANUAL = "manual"
    SIMULATION = "simulation"
