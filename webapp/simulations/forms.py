"""WTForms for products and for starting simulation runs (the services' rules decide)."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    Form,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)

from webapp.catalog.enums import PRODUCT_TYPES
from webapp.core.forms import choices
from webapp.simulations.enums import RunType


class ProductForm(Form):
    """Record a product by hand, or correct one."""

    version = HiddenField()
    mission_id = SelectField("Mission", validate_choice=False)
    product_type = SelectField("Product", choices=choices((p.value, p.label) for p in PRODUCT_TYPES))
    quantity_kg = StringField("Quantity (kg)")
    produced_at = StringField("Produced on")
    recipe_id = SelectField("Recipe", validate_choice=False)
    notes = TextAreaField("Notes")
    tags = StringField("Tags")

    def values(self, sent) -> dict:
        """The fields the request sent, for the service."""
        return {name: field.data for name, field in self._fields.items() if name != "version" and name in sent}


class RunForm(Form):
    """Start a simulation run of a mission (the service validates; see runs.parse_run_request)."""

    name = StringField("Name")
    run_type = SelectField("What to plan", choices=choices((t.value, t.label) for t in RunType))
    target = SelectField(
        "Product to maximise", choices=choices((p.value, p.label) for p in PRODUCT_TYPES), default="brick"
    )
    time_horizon_days = IntegerField("Horizon (days)", default=30)
    scenarios = IntegerField("Scenarios (Monte Carlo)", default=200)
    plan = SelectField(
        "Each scenario re-plans to",
        choices=choices(
            (
                ("throughput_optimization", "Maximise the product"),
                ("waste_minimization", "Minimise stored waste"),
                ("mass_balance", "Follow the fixed policy"),
            )
        ),
    )
    seed = StringField("Seed (optional)")
    tau = StringField("Tolerance τ", default="0")
    whole_batches = BooleanField("Whole batches only")
    failure_shape = StringField("Failure shape (Weibull β)", default="1")
    generation_cv = StringField("Day-to-day variation of waste", default="0")
    policy = SelectField(
        "Re-planning",
        choices=choices(
            (
                ("perfect_information", "Knowing each scenario's failures (upper bound)"),
                ("rolling_horizon", "Rolling horizon: only on what has been seen (forecast)"),
            )
        ),
    )
    power_profile = SelectField(
        "Power",
        choices=choices(
            (
                ("continuous", "Continuous (daily energy budget)"),
                ("lunar", "Lunar day and night (354 h each)"),
            )
        ),
    )
    peak_kw = StringField("Peak limit (kW, optional)")
    battery_kwh = StringField("Storage for the night (kWh)", default="150")
    night_kw = StringField("Night power (kW)", default="0")
    lunar_phase_h = StringField("Hours since sunrise at the start", default="0")

    def request_values(self) -> dict:
        """The shape parse_run_request reads (same as the JSON body)."""
        config = {
            "target": self.target.data,
            "tau": self.tau.data or None,
            "whole_batches": bool(self.whole_batches.data),
            "time_horizon_days": self.time_horizon_days.raw_data[0] if self.time_horizon_days.raw_data else None,
            "seed": self.seed.data or None,
            "power_profile": self.power_profile.data,
            "peak_kw": self.peak_kw.data or None,
        }
        if self.power_profile.data == "lunar":
            config |= {key: getattr(self, key).data or None for key in ("battery_kwh", "night_kw", "lunar_phase_h")}
        if self.run_type.data == "monte_carlo":
            config |= {
                "scenarios": self.scenarios.raw_data[0] if self.scenarios.raw_data else None,
                "plan": self.plan.data,
                "failure_shape": self.failure_shape.data or None,
                "policy": self.policy.data,
                "generation_cv": self.generation_cv.data or None,
            }
        return {"name": self.name.data, "run_type": self.run_type.data, "config": config}
