"""Staff's plan form: prices typed in the currency's units ("49.00"), stored as whole cents."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from wtforms import Form, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from webapp.billing.enums import METRIC_LABELS, Metric

GIB = 1024**3


def cents(text: str | None) -> int | None:
    """ "49" or "49.00" -> 4900; empty -> None; anything else (more than two decimals, negative) -> ValueError."""
    text = (text or "").strip().replace(",", "")
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError("Give an amount like 49 or 49.50.") from exc
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValueError("Give an amount of 0 or more with at most two decimals.")
    return int(amount * 100)


def money(text: str | None, required: bool = True) -> None:
    """A WTForms check of a money field."""
    try:
        value = cents(text)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    if value is None and required:
        raise ValidationError("Give an amount (0 for free).")


def _money_field(label: str, required: bool = True) -> StringField:
    def check(form, field):
        money(field.data, required)

    return StringField(label, validators=[check], render_kw={"inputmode": "decimal", "autocomplete": "off"})


LIMIT = [Optional(), NumberRange(min=0, max=10**9)]


class PlanForm(Form):
    """Everything a plan says; changing a price, seat or limit field makes a new version."""

    name = StringField("Name", validators=[DataRequired(), Length(max=80)])
    description = TextAreaField("Description", validators=[Length(max=500)])
    monthly_price = _money_field("Monthly price")
    yearly_price = _money_field("Yearly price")
    seat_price = _money_field("Price per extra seat, a month")
    included_seats = IntegerField("Included seats", validators=[DataRequired(), NumberRange(min=1, max=100_000)])
    seat_limit = IntegerField("Seat limit", validators=LIMIT)
    mission_limit = IntegerField("Mission limit", validators=LIMIT)
    storage_limit_gb = IntegerField("Storage limit (GB)", validators=LIMIT)
    monthly_run_limit = IntegerField("Simulation runs a month", validators=LIMIT)
    api_requests_per_minute = IntegerField(
        "API requests a minute", validators=[Optional(), NumberRange(min=1, max=1_000_000)],
        description="The organization's keys and members together; empty: the platform's setting",
    )  # fmt: skip
    monthly_credits = IntegerField(
        "Credits granted a month",
        validators=[InputRequired(message="Give 0 or more."), NumberRange(min=0, max=10**12)],
    )


# one trio of fields per metric: included, unit size, overage price
for _metric in Metric:
    _label = METRIC_LABELS[_metric]
    _count = [InputRequired(message="Give 0 or more."), NumberRange(min=0, max=10**12)]
    setattr(PlanForm, f"{_metric}_included", IntegerField(f"{_label}: included", validators=_count))
    _unit = [InputRequired(message="Give 1 or more."), NumberRange(min=1, max=10**9)]
    setattr(PlanForm, f"{_metric}_unit", IntegerField(f"{_label}: priced per", validators=_unit))
    setattr(PlanForm, f"{_metric}_overage", _money_field(f"{_label}: overage price (empty: none)", required=False))


def form_data(snapshot: dict) -> dict:
    """A plan's snapshot (webapp.billing.plans.snapshot) as the form's fields."""
    data = {
        "name": snapshot["name"],
        "description": snapshot["description"],
        "monthly_price": f"{snapshot['monthly_price_minor'] / 100:.2f}",
        "yearly_price": f"{snapshot['yearly_price_minor'] / 100:.2f}",
        "seat_price": f"{snapshot['seat_price_minor'] / 100:.2f}",
        "included_seats": snapshot["included_seats"],
        "seat_limit": snapshot["seat_limit"],
        "mission_limit": snapshot["mission_limit"],
        "storage_limit_gb": None if snapshot["storage_limit_bytes"] is None else snapshot["storage_limit_bytes"] // GIB,
        "monthly_run_limit": snapshot["monthly_run_limit"],
        "api_requests_per_minute": snapshot.get("api_requests_per_minute"),
        "monthly_credits": snapshot["monthly_credits"],
    }
    for metric, meter in snapshot["meters"].items():
        price = meter["overage_price_minor"]
        data |= {
            f"{metric}_included": meter["included"],
            f"{metric}_unit": meter["unit_size"],
            f"{metric}_overage": "" if price is None else f"{price / 100:.2f}",
        }
    return data


def plan_values(form: PlanForm) -> dict:
    """The checked form as the values webapp.billing.plans.revise_plan takes."""
    storage = form.storage_limit_gb.data
    return {
        "name": form.name.data or "",
        "description": (form.description.data or "").strip(),
        "monthly_price_minor": cents(form.monthly_price.data),
        "yearly_price_minor": cents(form.yearly_price.data),
        "seat_price_minor": cents(form.seat_price.data),
        "included_seats": form.included_seats.data,
        "seat_limit": form.seat_limit.data,
        "mission_limit": form.mission_limit.data,
        "storage_limit_bytes": None if storage is None else storage * GIB,
        "monthly_run_limit": form.monthly_run_limit.data,
        "api_requests_per_minute": form.api_requests_per_minute.data,
        "monthly_credits": form.monthly_credits.data,
        "meters": {
            str(metric): {
                "included": form[f"{metric}_included"].data,
                "unit_size": form[f"{metric}_unit"].data,
                "overage_price_minor": cents(form[f"{metric}_overage"].data),
            }
            for metric in Metric
        },
    }
