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
from webapp.simulations.engine.study import MODULE_PREFIX, PARAMETERS
from webapp.simulations.enums import RunType

PLAN_CHOICES = (
    ("throughput_optimization", "Maximise the product"),
    ("waste_minimization", "Minimise stored waste"),
    ("mass_balance", "Follow the fixed policy"),
)


def sweep_choices(modules: list[dict], optional: bool = False) -> list:
    """What a trade study may sweep: the mission's settings, then each module's units."""
    pairs = [("", "Nothing else")] if optional else []
    pairs += [(key, f"{spec.label} ({spec.unit})") for key, spec in PARAMETERS.items()]
    pairs += [(f"{MODULE_PREFIX}{m['key']}", f"Units of {m['name']}") for m in modules]
    return choices(pairs)


def _number(part: str) -> float | str:
    try:
        return float(part)
    except ValueError:
        return part  # goes on as text for the service to refuse by name


def _numbers(text: str | None) -> list | None:
    """'10, 20, 30' (commas, semicolons or spaces) as numbers."""
    parts = [part for part in (text or "").replace(";", ",").replace(" ", ",").split(",") if part]
    return [_number(part) for part in parts] or None


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
    resupply_every_days = StringField("Resupply every (days)")
    eva_per_week = StringField("EVA days a week")
    eva_waste_kg = StringField("Waste per EVA (kg)")
    scenarios = IntegerField("Scenarios (Monte Carlo)", default=200)
    plan = SelectField("Each scenario re-plans to", choices=choices(PLAN_CHOICES))
    study_plan = SelectField("Each combination plans to", choices=choices(PLAN_CHOICES))
    sweep_parameter_1 = SelectField("Sweep", validate_choice=False)
    sweep_values_1 = StringField("Values", default="20, 40, 60, 80")
    sweep_parameter_2 = SelectField("And sweep", validate_choice=False)
    sweep_values_2 = StringField("Values")
    against = SelectField(
        "Against",
        choices=choices((("waste_processed", "Waste processed (kg)"), ("energy", "Energy spent (kWh)"))),
    )
    points = IntegerField("Points on the trade-off", default=11)
    seed = StringField("Seed (optional)")
    tau = StringField("Tolerance τ", default="0")
    whole_batches = BooleanField("Whole batches only")
    failure_shape = StringField("Failure shape (Weibull β)", default="1")
    generation_cv = StringField("Day-to-day variation of waste", default="0")
    degraded_share = StringField("Share of failures that only slow a module", default="0")
    eva_random = BooleanField("EVA days fall at random in each week")
    spares_per_module = StringField("Spares carried per module (repairs)")
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

    def offer_modules(self, modules: list[dict]) -> None:
        """The sweep choices for this mission's catalog."""
        self.sweep_parameter_1.choices = sweep_choices(modules)
        self.sweep_parameter_2.choices = sweep_choices(modules, optional=True)
        if self.sweep_parameter_1.data in (None, "None"):
            self.sweep_parameter_1.data = "energy_budget_kwh_per_day"

    def show_sweep_errors(self, fields: dict) -> None:
        """A refused sweep is shown under the values it came from (the service names it `sweep`)."""
        for name in ("sweep", "against", "points", "plan"):
            if name in fields:
                target = {"sweep": self.sweep_values_1, "plan": self.study_plan}.get(name) or self[name]
                if name != "plan" or self.run_type.data == "trade_study":
                    target.errors = list(fields[name])

    @classmethod
    def from_run(cls, run) -> RunForm:
        """The form filled from an earlier run (its sweep into the sweep fields)."""
        config = dict(run.config)
        data = {"name": run.name, "run_type": run.run_type.value, **config}
        if run.run_type == RunType.TRADE_STUDY:
            data["study_plan"] = config.get("plan")
            for n, axis in enumerate(config.get("sweep") or [], start=1):
                data[f"sweep_parameter_{n}"] = axis["parameter"]
                data[f"sweep_values_{n}"] = ", ".join(f"{v:g}" for v in axis["values"])
        return cls(data=data)

    def request_values(self) -> dict:
        """The shape parse_run_request reads (same as the JSON body)."""
        config = {
            "target": self.target.data,
            "tau": self.tau.data or None,
            "whole_batches": bool(self.whole_batches.data),
            "time_horizon_days": self.time_horizon_days.raw_data[0] if self.time_horizon_days.raw_data else None,
            "resupply_every_days": self.resupply_every_days.data or None,
            "eva_per_week": self.eva_per_week.data or None,
            "eva_waste_kg": self.eva_waste_kg.data or None,
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
                "degraded_share": self.degraded_share.data or None,
                "eva_random": bool(self.eva_random.data),
                "spares_per_module": self.spares_per_module.data or None,
            }
        if self.run_type.data == "trade_study":
            sweep = [{"parameter": self.sweep_parameter_1.data, "values": _numbers(self.sweep_values_1.data)}]
            if self.sweep_parameter_2.data:
                sweep.append({"parameter": self.sweep_parameter_2.data, "values": _numbers(self.sweep_values_2.data)})
            config |= {"plan": self.study_plan.data, "sweep": sweep}
        if self.run_type.data == "pareto_sweep":
            config |= {
                "against": self.against.data,
                "points": self.points.raw_data[0] if self.points.raw_data else None,
            }
        return {"name": self.name.data, "run_type": self.run_type.data, "config": config}
