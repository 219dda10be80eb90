"""The typed registry of settings: each one's key, where it may be set, its type, default, bounds, description and
who may change it. Values live in the `settings` table; the effective value resolves user -> organization ->
system -> the default written here."""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from webapp.core.errors import ValidationError
from webapp.core.permissions import Perm
from webapp.settings.enums import SettingScope

SYSTEM, ORGANIZATION, USER = SettingScope.SYSTEM, SettingScope.ORGANIZATION, SettingScope.USER


@dataclass(frozen=True)
class Definition:
    """One setting."""

    key: str
    label: str
    description: str
    topic: str
    kind: str  # "bool" | "decimal" | "choice"
    default: Any
    scopes: tuple[SettingScope, ...]  # where it may be set
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    places: int = 3
    unit: str = ""
    choices: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    org_permission: str = Perm.ORG_WRITE  # who may change the organization's value
    # a last word on a new value from the person setting it: the message of a 422, or None to let it through
    check: Callable[[Any, Any], str | None] | None = None

    def parse(self, raw) -> Any:
        """The value from JSON or form input, checked; a 422 on `value` otherwise."""
        if self.kind == "bool":
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.lower() in ("true", "on", "1", "yes", "false", "off", "0", "no", ""):
                return raw.lower() in ("true", "on", "1", "yes")
            raise ValidationError.field("value", "Give true or false.")
        if self.kind == "choice":
            allowed = [c for c, _ in self.choices]
            if raw not in allowed:
                listed = ", ".join(allowed) if len(allowed) <= 12 else f"{', '.join(allowed[:3])} …"
                raise ValidationError.field("value", f"Choose one of: {listed}.")
            return raw
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str, Decimal)):
            raise ValidationError.field("value", "Give a number.")
        try:
            number = Decimal(str(raw).strip())
        except InvalidOperation as exc:
            raise ValidationError.field("value", "Give a number, e.g. 60 or 2.5.") from exc
        if not number.is_finite():
            raise ValidationError.field("value", "Give a finite number.")
        if self.minimum is not None and number < self.minimum:
            raise ValidationError.field("value", f"At least {self.minimum}{' ' + self.unit if self.unit else ''}.")
        if self.maximum is not None and number > self.maximum:
            raise ValidationError.field("value", f"At most {self.maximum}{' ' + self.unit if self.unit else ''}.")
        if number != number.quantize(Decimal(1).scaleb(-self.places)):
            raise ValidationError.field("value", f"Use at most {self.places} decimal places.")
        return number

    def to_json(self, value) -> Any:
        """The value as stored in JSONB (numbers as strings, so no binary rounding creeps in)."""
        return str(value) if self.kind == "decimal" else value

    def from_json(self, stored) -> Any:
        """The stored value back as its type."""
        return Decimal(stored) if self.kind == "decimal" else stored

    def show(self, value) -> str:
        """The value for people."""
        if self.kind == "bool":
            return "On" if value else "Off"
        if self.kind == "choice":
            return dict(self.choices).get(value, str(value))
        text = f"{value.normalize():f}" if isinstance(value, Decimal) else str(value)
        return f"{text} {self.unit}".strip()


REGISTRY: dict[str, Definition] = {}


def define(definition: Definition) -> Definition:
    """Add a setting to the registry."""
    REGISTRY[definition.key] = definition
    return definition


def definition_of(key: str) -> Definition:
    """The setting called `key`; a 422 naming `key` for an unknown one."""
    found = REGISTRY.get(key)
    if found is None:
        raise ValidationError.field("key", f"No such setting; known: {', '.join(sorted(REGISTRY))}.")
    return found


def definitions(scope: SettingScope) -> list[Definition]:
    """The settings that may be set at `scope`, by topic."""
    return sorted((d for d in REGISTRY.values() if scope in d.scopes), key=lambda d: (d.topic, d.label))


# -- mission planning: what a new mission starts from (habitat.md §4, suggested budgets for a 4-crew surface
#    mission, all estimates); an organization sets its own, staff the platform's
PLANNING = "Mission planning defaults"
for key, label, default, maximum, unit in (
    ("missions.default_energy_budget_kwh_per_day", "Energy for recycling", "60", 1_000_000, "kWh/day"),
    ("missions.default_crew_time_h_per_day", "Crew time for recycling", "2", 2400, "h/day"),
    ("missions.default_regolith_supply_kg_per_day", "Regolith supply", "60", 1_000_000, "kg/day"),
    ("missions.default_wet_waste_cap_days", "Wet-waste cap", "3", 3650, "days"),
):
    define(
        Definition(
            key, label, f"What a new mission's {label.lower()} starts at when left empty.", PLANNING, "decimal",
            Decimal(default), (SYSTEM, ORGANIZATION), minimum=Decimal(0), maximum=Decimal(maximum), unit=unit,
        )
    )  # fmt: skip

# -- email: the optional categories (security notices always go out)
EMAIL = "Email"
for key, label in (
    ("email.approval_requests", "Break-glass requests waiting for my approval"),
    ("email.invitation_accepted", "Someone accepted an invitation I sent"),
    ("email.mentions", "Someone mentions me in a comment"),
):
    define(Definition(key, label, "Send me an email when this happens.", EMAIL, "bool", True, (SYSTEM, USER)))


# -- dates and times: how a person reads them (templating formats every time with these)
DATES = "Dates and times"
# strftime patterns live in webapp.core.templating; the interface language is English for now
LOCALES = {
    "en": "English, ISO dates (2026-11-23 14:05)",
    "en-US": "English, US (Nov 23, 2026 2:05 PM)",
    "en-GB": "English, UK (23 Nov 2026 14:05)",
}


@functools.cache
def timezones() -> tuple[str, ...]:
    """IANA zone names, sorted (the tz database shipped with Python or the system)."""
    return tuple(sorted(zoneinfo.available_timezones()))


define(
    Definition(
        "profile.locale", "Date and time format", "How dates and times are written for you.", DATES, "choice",
        "en", (SYSTEM, USER), choices=tuple(LOCALES.items()),
    )
)  # fmt: skip
define(
    Definition(
        "profile.timezone", "Time zone", "Times are shown in this zone; they are stored in UTC.", DATES, "choice",
        "UTC", (SYSTEM, USER), choices=tuple((tz, tz.replace("_", " ")) for tz in timezones()),
    )
)  # fmt: skip


# -- security: what an organization asks of its members
def _mfa_first(value, ctx) -> str | None:
    if value and not ctx.mfa_enabled:
        return "Turn on two-factor for your own account first, or you would lock yourself out."
    return None


define(
    Definition(
        "security.require_mfa", "Members must use two-factor authentication",
        "Members without two-factor are sent to set it up before they can open the organization.", "Security",
        "bool", False, (ORGANIZATION,), check=_mfa_first,
    )
)  # fmt: skip

# -- billing: how strict the plan's limits are
BILLING = "Billing"
define(
    Definition(
        "billing.grace_days", "Grace period after a failed payment",
        "A subscription whose payment failed keeps working this many days; then the organization is read-only "
        "until it is paid.", BILLING, "decimal", Decimal(14), (SYSTEM,), minimum=Decimal(0), maximum=Decimal(60),
        places=0, unit="days",
    )
)  # fmt: skip
define(
    Definition(
        "billing.auto_seats", "Add seats automatically",
        "When someone accepts an invitation and every paid seat is taken, buy one more seat (up to the plan's "
        "limit) instead of refusing them.", BILLING, "bool", False, (SYSTEM, ORGANIZATION),
        org_permission=Perm.BILLING_MANAGE,
    )
)  # fmt: skip

USAGE = "Usage metering"
define(
    Definition(
        "usage.late_days", "Late usage accepted for",
        "Usage events may arrive this many days after they happened (older ones are refused); a billing period's "
        "usage is closed and its overage invoiced this long after the period ends.", USAGE, "decimal", Decimal(3),
        (SYSTEM,), minimum=Decimal(0), maximum=Decimal(14), places=0, unit="days",
    )
)  # fmt: skip
define(
    Definition(
        "usage.retention_months", "Raw usage events kept for",
        "Monthly partitions of raw usage events older than this are detached for archiving; the hourly and daily "
        "rollups stay.", USAGE, "decimal", Decimal(25), (SYSTEM,), minimum=Decimal(2), maximum=Decimal(120),
        places=0, unit="months",
    )
)  # fmt: skip

AUDIT = "Audit log"
define(
    Definition(
        "audit.retention_months", "Audit log kept for",
        "Each month of the audit log older than this is exported to object storage (gzip JSON Lines, verified "
        "first), then its partition is dropped; its chains continue from an anchor, so verification still holds.",
        AUDIT, "decimal", Decimal(84), (SYSTEM,), minimum=Decimal(3), maximum=Decimal(120), places=0, unit="months",
    )
)  # fmt: skip

API = "JSON API"
define(
    Definition(
        "api.rate_limit_key", "Requests a minute per API key",
        "Each API key may make this many requests in any minute; more are answered 429 with Retry-After.", API,
        "decimal", Decimal(600), (SYSTEM,), minimum=Decimal(1), maximum=Decimal(1_000_000), places=0,
        unit="requests",
    )
)  # fmt: skip
define(
    Definition(
        "api.rate_limit_user", "Requests a minute per person",
        "Each person, over all their keys, tokens and browser sessions, may make this many API requests in any "
        "minute.", API, "decimal", Decimal(1200), (SYSTEM,), minimum=Decimal(1), maximum=Decimal(1_000_000),
        places=0, unit="requests",
    )
)  # fmt: skip
define(
    Definition(
        "api.rate_limit_organization", "Requests a minute per organization",
        "All of an organization's keys and members together, unless its plan sets its own number.", API, "decimal",
        Decimal(3000), (SYSTEM,), minimum=Decimal(1), maximum=Decimal(1_000_000), places=0, unit="requests",
    )
)  # fmt: skip
define(
    Definition(
        "api.rate_limit_address", "Requests a minute per address without credentials",
        "API requests that carry no credential (signing in, public plans) count against their address. Sign-in "
        "and sign-up keep their own, stricter throttles.", API, "decimal", Decimal(300), (SYSTEM,),
        minimum=Decimal(1), maximum=Decimal(1_000_000), places=0, unit="requests",
    )
)  # fmt: skip
