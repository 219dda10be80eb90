"""JSON shapes of the missions and crew API (seed 000 §4: planning numbers travel in `settings`)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class MissionSettings(BaseModel):
    """The planning settings simulations start from (all per day unless named otherwise)."""

    model_config = ConfigDict(extra="forbid")

    recycle_target_kg_per_day: Decimal | None = None
    energy_budget_kwh_per_day: Decimal | None = None
    crew_time_h_per_day: Decimal | None = None
    regolith_supply_kg_per_day: Decimal | None = None
    storage_volume_m3: Decimal | None = None
    wet_waste_cap_days: Decimal | None = None


class MissionIn(BaseModel):
    """Body of POST /organizations/:org_id/missions."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=500)
    description: str = Field("", max_length=10000)
    status: str | None = None
    destination: str
    crew_size: int
    launch_date: str | None = Field(None, description="ISO 8601 date (2031-07-10) or date-time with timezone")
    landing_date: str | None = Field(None, description="ISO 8601 date or date-time with timezone")
    settings: MissionSettings = MissionSettings()


class MissionPatch(BaseModel):
    """Body of PATCH /missions/:mission_id: the fields to change and the version read."""

    model_config = ConfigDict(extra="forbid")

    version: int | None = None
    name: str | None = Field(None, max_length=500)
    description: str | None = Field(None, max_length=10000)
    status: str | None = None
    destination: str | None = None
    crew_size: int | None = None
    launch_date: str | None = Field(None, description="ISO 8601 date (2031-07-10) or date-time with timezone")
    landing_date: str | None = Field(None, description="ISO 8601 date or date-time with timezone")
    settings: MissionSettings | None = None


class CrewIn(BaseModel):
    """Body of POST /missions/:mission_id/crew."""

    model_config = ConfigDict(extra="forbid")

    user_id: str
    role: str = Field(description="commander, pilot, flight_engineer, scientist, medical_officer, mission_specialist")
    specialization: str = Field("", max_length=500)


class CrewPatch(BaseModel):
    """Body of PATCH /missions/:mission_id/crew/:crew_id."""

    model_config = ConfigDict(extra="forbid")

    version: int | None = None
    role: str | None = None
    specialization: str | None = Field(None, max_length=500)


class CrewOut(BaseModel):
    """One crew assignment."""

    id: str
    user_id: str
    name: str
    email: str
    role: str
    specialization: str
    assigned_at: datetime
    removed_at: datetime | None
    version: int


class MissionOut(BaseModel):
    """A mission; `crew` only when asked for with ?embed=crew."""

    id: str
    name: str
    description: str
    status: str
    destination: str
    crew_size: int
    launch_date: datetime | None
    landing_date: datetime | None
    settings: dict[str, float | None]
    created_at: datetime
    updated_at: datetime
    version: int
    crew: list[CrewOut] | None = None
