"""JSON shapes of the missions and crew API (seed 000 §4: planning numbers travel in `settings`); the limits mirror
the service's rules (missions.service.RULES), which still decide."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from webapp.core.openapi import VERSION, Body, TagList, places, whole
from webapp.missions.enums import CrewRole, Destination, MissionStatus

When = Annotated[
    AwareDatetime | date, Field(description="A date (2031-07-10) or a time with its offset (2031-07-10T12:00:00Z)")
]


class MissionSettings(Body):
    """The planning settings simulations start from (all per day unless named otherwise); null clears the
    optional ones."""

    recycle_target_kg_per_day: float | None = Field(None, ge=0, le=100_000, json_schema_extra=places(3))
    energy_budget_kwh_per_day: float | None = Field(None, ge=0, le=1_000_000, json_schema_extra=places(3))
    crew_time_h_per_day: float | None = Field(None, ge=0, le=2400, json_schema_extra=places(3))
    regolith_supply_kg_per_day: float | None = Field(None, ge=0, le=1_000_000, json_schema_extra=places(3))
    storage_volume_m3: float | None = Field(
        None,
        gt=0,
        le=1_000_000,
        description="room for waste, compacted tiles and residue; null: no limit",
        json_schema_extra=places(3),
    )
    wet_waste_cap_days: float | None = Field(
        None, gt=0, le=3650, description="null: no cap", json_schema_extra=places(2)
    )
    water_recovery_capacity_kg: float | None = Field(
        None, gt=0, le=1_000_000, description="what the water recovery system holds of the water recipes make; "
        "null: no limit", json_schema_extra=places(3),
    )  # fmt: skip
    water_recovery_drain_kg_per_day: float | None = Field(
        None, ge=0, le=1_000_000, description="what it takes in a day; null: nothing", json_schema_extra=places(3)
    )
    air_system_capacity_kg: float | None = Field(
        None, gt=0, le=1_000_000, description="what the air system holds of the oxygen and carbon dioxide recipes "
        "make; null: no limit", json_schema_extra=places(3),
    )  # fmt: skip
    air_system_drain_kg_per_day: float | None = Field(
        None, ge=0, le=1_000_000, description="what it takes up in a day; null: nothing", json_schema_extra=places(3)
    )
    propellant_capacity_kg: float | None = Field(
        None, gt=0, le=1_000_000, description="what propellant storage holds of the methane and hydrogen recipes "
        "make (it only fills); null: no limit", json_schema_extra=places(3),
    )  # fmt: skip


class MissionIn(Body):
    """Body of POST /organizations/:org_id/missions; budgets left out take the suggested defaults."""

    name: str = Field(min_length=1, max_length=120)
    description: str = Field("", max_length=4000)
    status: MissionStatus | None = None
    destination: Destination
    crew_size: whole(1, 100)
    launch_date: When | None = None
    landing_date: When | None = None
    settings: MissionSettings = MissionSettings()
    tags: TagList = []


class MissionPatch(Body):
    """Body of PATCH /missions/:mission_id: the fields to change and the version read."""

    version: VERSION | None = None
    name: str | None = Field(None, min_length=1, max_length=120)
    description: str | None = Field(None, max_length=4000)
    status: MissionStatus | None = None
    destination: Destination | None = None
    crew_size: whole(1, 100) | None = Field(None)
    launch_date: When | None = None
    landing_date: When | None = None
    settings: MissionSettings | None = None
    tags: TagList | None = None


class CrewIn(Body):
    """Body of POST /missions/:mission_id/crew."""

    user_id: uuid.UUID
    role: CrewRole
    specialization: str = Field("", max_length=120)


class CrewPatch(Body):
    """Body of PATCH /missions/:mission_id/crew/:crew_id."""

    version: VERSION | None = None
    role: CrewRole | None = None
    specialization: str | None = Field(None, max_length=120)


class MissionQuery(BaseModel):
    """Query of GET /missions/:mission_id."""

    model_config = ConfigDict(extra="ignore")

    embed: Literal["crew"] | None = Field(None, description="`crew`: add the current crew")


class CrewQuery(BaseModel):
    """Query of GET /missions/:mission_id/crew."""

    model_config = ConfigDict(extra="ignore")

    include: Literal["removed"] | None = Field(None, description="`removed`: past crew members too")


class CrewOut(BaseModel):
    """One crew assignment."""

    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    email: str
    role: CrewRole
    specialization: str
    assigned_at: datetime
    removed_at: datetime | None
    version: int


class MissionSettingsOut(BaseModel):
    """The planning settings as stored (null: no limit, no cap)."""

    recycle_target_kg_per_day: float | None
    energy_budget_kwh_per_day: float | None
    crew_time_h_per_day: float | None
    regolith_supply_kg_per_day: float | None
    storage_volume_m3: float | None
    wet_waste_cap_days: float | None
    water_recovery_capacity_kg: float | None
    water_recovery_drain_kg_per_day: float | None
    air_system_capacity_kg: float | None
    air_system_drain_kg_per_day: float | None
    propellant_capacity_kg: float | None


class MissionOut(BaseModel):
    """A mission; `crew` only when asked for with ?embed=crew."""

    id: uuid.UUID
    name: str
    description: str
    status: MissionStatus
    destination: Destination
    crew_size: int
    launch_date: datetime | None
    landing_date: datetime | None
    settings: MissionSettingsOut
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    version: int
    crew: list[CrewOut] | None = Field(None, description="with ?embed=crew only")
