"""Field rules written once per entity and applied by the service, whichever edge (form, JSON, CSV) the input
came through; each broken rule becomes a message under the field's name (422 details.fields)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

from webapp.core.errors import ValidationError


@dataclass(frozen=True)
class Number:
    """A decimal quantity with its unit and range."""

    field: str
    label: str
    unit: str = ""
    min: Decimal | int | None = 0
    max: Decimal | int | None = None
    min_exclusive: bool = False
    required: bool = True
    places: int = 4

    def check(self, value) -> tuple[Decimal | None, str | None]:
        """The value as a Decimal, or an error message."""
        if value is None or value == "":
            return None, ("Enter a number." if self.required else None)
        try:
            number = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            return None, "Enter a number, e.g. 0.25."
        if not number.is_finite():
            return None, "Enter a finite number."
        if self.min is not None and (number < self.min or (self.min_exclusive and number == self.min)):
            least = "more than" if self.min_exclusive else "at least"
            return None, f"Must be {least} {self.min}{_unit(self.unit, self.min)}."
        if self.max is not None and number > self.max:
            return None, f"Must be at most {self.max}{_unit(self.unit, self.max)}."
        if number != number.quantize(Decimal(1).scaleb(-self.places)):
            return None, f"Use at most {self.places} decimal places."
        return number, None


@dataclass(frozen=True)
class Text:
    """A trimmed string with a length range and an optional pattern."""

    field: str
    label: str
    max: int = 120
    min: int = 0
    pattern: str | None = None
    hint: str = ""

    def check(self, value) -> tuple[str | None, str | None]:
        """The trimmed value, or an error message."""
        text = "" if value is None else str(value).strip()
        if len(text) < self.min:
            return None, "This field is required." if self.min == 1 else f"At least {self.min} characters."
        if len(text) > self.max:
            return None, f"At most {self.max} characters."
        if text and self.pattern and not re.fullmatch(self.pattern, text):
            return None, self.hint or "This value has the wrong format."
        return text, None


@dataclass(frozen=True)
class Day:
    """An optional calendar date (ISO 8601, e.g. 2031-07-10)."""

    field: str
    label: str
    required: bool = False

    def check(self, value) -> tuple[date | None, str | None]:
        """The date, or an error message."""
        if value is None or value == "":
            return None, ("Enter a date." if self.required else None)
        if isinstance(value, date):
            return value, None
        try:
            return date.fromisoformat(str(value).strip()), None
        except ValueError:
            return None, "Enter a date as YYYY-MM-DD."


SINGULAR = {"people": "person", "days": "day", "hours": "hour", "scenarios": "scenario"}


def _unit(unit: str, amount=None) -> str:
    """' people', or ' person' after exactly 1 ('at least 1 person')."""
    if not unit:
        return ""
    return f" {SINGULAR.get(unit, unit)}" if amount is not None and amount == 1 else f" {unit}"


def partition(values: dict, rules: tuple, *, partial: bool = False) -> tuple[dict, dict]:
    """(clean values, {field: [message]}) after applying `rules` (only to present fields when `partial`)."""
    cleaned, errors = {}, {}
    for rule in rules:
        if partial and rule.field not in values:
            continue
        value, error = rule.check(values.get(rule.field))
        if error:
            errors[rule.field] = [error]
        else:
            cleaned[rule.field] = value
    return cleaned, errors


def clean(values: dict, rules: tuple, *, partial: bool = False) -> dict:
    """Apply `rules` to `values` (only the present fields when `partial`); raise one 422 naming every bad field."""
    cleaned, errors = partition(values, rules, partial=partial)
    if errors:
        raise ValidationError(details={"fields": errors})
    return cleaned


def choice(values: dict, field: str, enum_cls, errors: dict, *, required: bool = True, label: str = ""):
    """An enum member from `values[field]`, recording a message in `errors` when it is not one."""
    raw = values.get(field)
    if raw in (None, ""):
        if required:
            errors[field] = [f"Choose {label or 'a value'}."]
        return None
    try:
        return enum_cls(raw)
    except ValueError:
        options = ", ".join(m.value for m in enum_cls)
        errors[field] = [f"Choose one of: {options}."]
        return None


@dataclass(frozen=True)
class Moment:
    """An optional point in time: ISO 8601 with a timezone, or a plain date (midnight UTC)."""

    field: str
    label: str
    required: bool = False

    def check(self, value) -> tuple[datetime | None, str | None]:
        """The aware datetime, or an error message."""
        if value is None or value == "":
            return None, ("Enter a date." if self.required else None)
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime.combine(value, time(), UTC)
        else:
            raw = str(value).strip()
            try:
                moment = (
                    datetime.combine(date.fromisoformat(raw), time(), UTC)
                    if len(raw) == 10
                    else datetime.fromisoformat(raw.replace("Z", "+00:00"))
                )
            except ValueError:
                return None, "Enter a date (YYYY-MM-DD) or a time in ISO 8601, e.g. 2031-07-10T12:00:00Z."
        if moment.tzinfo is None:
            return None, "Give the time with its timezone, e.g. 2031-07-10T12:00:00Z."
        if not 1957 <= moment.year <= 2200:
            return None, "Pick a year between 1957 and 2200."
        return moment, None


TAG = re.compile(r"[\w][\w.+/-]{0,39}")
MAX_TAGS = 20


@dataclass(frozen=True)
class Tags:
    """Labels: a list (or a comma- or space-separated text) of short words, lowercased, duplicates dropped."""

    field: str = "tags"
    label: str = "Tags"

    def check(self, value) -> tuple[list[str] | None, str | None]:
        """The clean list, or an error message."""
        if value is None or value == "":
            return [], None
        if isinstance(value, str):
            items = re.split(r"[,\s]+", value)
        elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            items = list(value)
        else:
            return None, "Give tags as a list of words."
        tags = list(dict.fromkeys(t.strip().lstrip("#").lower() for t in items if t.strip().lstrip("#")))
        if len(tags) > MAX_TAGS:
            return None, f"At most {MAX_TAGS} tags."
        bad = [t for t in tags if not TAG.fullmatch(t)]
        if bad:
            return (
                None,
                f"“{bad[0][:40]}” is not a tag: up to 40 letters, digits and . + / - _, from a letter or digit.",
            )
        return tags, None
