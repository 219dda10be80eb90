"""Proration in integer minor units: changing plan, seats or interval part-way through a period credits the unused
part of what was paid and charges the rest of the period at the new price. Each part is rounded half up on its own
(as Stripe does), so a credit never exceeds what was paid and a charge never exceeds the new period's price."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from webapp.billing.enums import Interval
from webapp.billing.models import Plan


def period_price(plan: Plan, interval: Interval, seats: int) -> int:
    """What one period costs: the plan's price plus each seat beyond the included ones."""
    yearly = interval == Interval.YEAR
    base = plan.yearly_price_minor if yearly else plan.monthly_price_minor
    extra = max(0, seats - plan.included_seats)
    return base + extra * plan.seat_price_minor * (12 if yearly else 1)


def share(amount: int, part: int, whole: int) -> int:
    """`amount * part / whole` rounded half up, in integers (0 <= part <= whole, whole > 0)."""
    return (2 * amount * part + whole) // (2 * whole)


@dataclass(frozen=True)
class Proration:
    """What a change costs now: the unused part of the old price credited, the rest of the period at the new price
    charged; `amount_due` is what is collected today and `credit_left` what is given back (never both)."""

    credit: int
    charge: int
    remaining_seconds: int
    period_seconds: int

    @property
    def amount_due(self) -> int:
        """Collected now (0 when the credit covers the charge)."""
        return max(0, self.charge - self.credit)

    @property
    def credit_left(self) -> int:
        """Given back now (0 when the charge uses the whole credit)."""
        return max(0, self.credit - self.charge)


def prorate(old_price: int, new_price: int, period_start: datetime, period_end: datetime, at: datetime) -> Proration:
    """The proration of moving from `old_price` to `new_price` (each a whole period's price) at `at`."""
    whole = max(1, int((period_end - period_start).total_seconds()))
    remaining = min(whole, max(0, int((period_end - at).total_seconds())))
    return Proration(share(old_price, remaining, whole), share(new_price, remaining, whole), remaining, whole)
