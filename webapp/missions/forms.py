"""WTForms for missions and crew: they carry the input; the service's rules decide (one set of messages)."""

from __future__ import annotations

from wtforms import Form, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired

from webapp.core.forms import choices
from webapp.missions.enums import CrewRole, Destination, MissionStatus


class MissionForm(Form):
    """Create or edit a mission and its planning settings."""

    version = HiddenField()
    name = StringField("Name", validators=[InputRequired("Give the mission a name.")])
    description = TextAreaField("Description")
    status = SelectField("Status", choices=choices((s.value, s.value.capitalize()) for s in MissionStatus))
    destination = SelectField("Destination", choices=choices((d.value, d.value.capitalize()) for d in Destination))
    crew_size = StringField("Crew size", default="4")
    launch_date = StringField("Launch")
    landing_date = StringField("Landing")
    recycle_target_kg_per_day = StringField("Recycling target (kg/day)")
    energy_budget_kwh_per_day = StringField("Energy for recycling (kWh/day)", default="60")
    crew_time_h_per_day = StringField("Crew time for recycling (h/day)", default="2")
    regolith_supply_kg_per_day = StringField("Regolith supply (kg/day)", default="60")
    storage_volume_m3 = StringField("Storage volume (m³)")
    wet_waste_cap_days = StringField("Wet-waste cap (days of generation)", default="3")
    water_recovery_capacity_kg = StringField("Water recovery: capacity (kg)")
    water_recovery_drain_kg_per_day = StringField("Water recovery: intake (kg/day)")
    air_system_capacity_kg = StringField("Air system: capacity (kg)")
    air_system_drain_kg_per_day = StringField("Air system: uptake (kg/day)")
    propellant_capacity_kg = StringField("Propellant storage: capacity (kg)")
    tags = StringField("Tags")

    def values(self) -> dict:
        """The submitted values for the service (empty optional numbers mean unset)."""
        return {name: field.data for name, field in self._fields.items() if name != "version"}


class CrewForm(Form):
    """Assign a member to the crew."""

    user_id = SelectField("Member", validate_choice=False)
    crew_role = SelectField(
        "Crew role", choices=choices((r.value, r.label) for r in CrewRole), default=CrewRole.MISSION_SPECIALIST.value
    )
    specialization = StringField("Specialization")


class CrewEditForm(Form):
    """Change one assignment inline."""

    version = HiddenField()
    crew_role = SelectField("Crew role", choices=choices((r.value, r.label) for r in CrewRole))
    specialization = StringField("Specialization")
