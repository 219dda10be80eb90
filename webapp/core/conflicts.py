"""What a stale save shows: only the fields whose saved value really differs from what was typed (`0.5000` and `0.5`
do not), both sides written the same way, so "use theirs / keep mine" is a real choice."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum


@dataclass(frozen=True)
class Difference:
    """One field both people changed differently."""

    field: str
    label: str
    theirs: str
    mine: str


def _like(saved, typed):
    """`typed` (form text) read as the type of `saved`, so the two compare and print alike; the text if it cannot be."""
    if typed is None or isinstance(typed, type(saved)) and not isinstance(saved, Enum):
        return typed
    text = str(getattr(typed, "value", typed)).strip()
    try:
        if isinstance(saved, bool):
            return text.lower() in ("1", "true", "y", "yes", "on")
        if isinstance(saved, Enum):
            return type(saved)(text)
        if isinstance(saved, Decimal | int | float):
            return Decimal(text) if text else None
        if isinstance(saved, datetime):
            return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
        if isinstance(saved, date):
            return date.fromisoformat(text) if text else None
        if isinstance(saved, list | tuple | set | frozenset):
            return sorted(t.strip().lstrip("#").lower() for t in re.split(r"[,\s]+", text) if t.strip()) if text else []
    except (ValueError, InvalidOperation):
        return text
    return text


def _key(value):
    """A comparable form of a value: numbers by amount, text without outer spaces (empty as nothing), collections
    as sorted text."""
    if isinstance(value, str):
        value = value.strip()
    if value in ("", None) or (isinstance(value, list | tuple | set | frozenset) and not value):
        return None
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        return Decimal(str(value)).normalize()
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(sorted(str(v) for v in value))
    return value


def same(saved, typed) -> bool:
    """Whether a saved value and a typed one mean the same thing."""
    mine = _like(saved, typed)
    if isinstance(saved, datetime) and isinstance(mine, date) and not isinstance(mine, datetime):
        return saved.date() == mine
    return _key(saved) == _key(mine)


def display(value) -> str:
    """One way to write a value on both sides of a conflict."""
    if value in (None, ""):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return str(getattr(value, "label", value.value)).replace("_", " ")
    if isinstance(value, Decimal | int | float):
        return f"{Decimal(str(value)).normalize():,f}"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(sorted(str(v) for v in value)) or "—"
    return str(value)


def differences(saved: dict, typed: dict, labels: dict[str, str]) -> list[Difference]:
    """The fields of `labels` that were typed and differ from the saved ones, in the order of `labels`."""
    found = []
    for field, label in labels.items():
        if field not in typed or field not in saved or same(saved[field], typed[field]):
            continue
        mine = _like(saved[field], typed[field])
        if isinstance(saved[field], datetime) and not isinstance(mine, datetime):
            theirs = display(saved[field].date())
        else:
            theirs = display(saved[field])
        found.append(Difference(field, label, theirs, display(mine)))
    return found


def form_labels(form, fields=None) -> dict[str, str]:
    """Field name -> visible label of a WTForms form (all its data fields, or `fields`)."""
    names = fields or [f.name for f in form if f.type not in ("HiddenField", "CSRFTokenField", "SubmitField")]
    return {name: form[name].label.text for name in names if name in form}
