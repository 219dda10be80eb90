"""WTForms for catalog pages, built from each kind's description so a new number needs no new form code.

The forms carry input only; the service's rules decide (the same messages as the JSON API and CSV import).
"""

from __future__ import annotations

from decimal import Decimal

from werkzeug.datastructures import MultiDict
from wtforms import (
    BooleanField,
    FileField,
    Form,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)

from webapp.catalog.enums import Basis, MaintenanceKind, ModuleStatus
from webapp.catalog.service.items import Kind
from webapp.core.forms import choices
from webapp.core.validation import Day, Number

BASIS_CHOICES = choices([("", "Keep as is")] + [(b.value, b.value.capitalize()) for b in Basis])


def _text(value) -> str:
    """A stored value as the form shows it (Decimals without trailing zeros, enums by value)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return getattr(value, "value", value)


SPECIAL_LABELS = {"hmc": "HMC (heat-melt compactor)", "o2_isru": "O₂ from CO₂ (ISRU, Mars only)"}


def option_label(value: str) -> str:
    """An enum value as people read it: `brine_processor` -> `Brine processor`."""
    return SPECIAL_LABELS.get(value, value.replace("_", " ").capitalize())


def number_label(rule: Number) -> str:
    """`Power (kW)`."""
    return f"{rule.label} ({rule.unit})" if rule.unit else rule.label


class ItemForm(Form):
    """Fields every catalog item has; `form_class(kind)` adds the kind's own."""

    version = HiddenField()
    name = StringField("Name")
    key = StringField("Key")
    tags = StringField("Tags")
    description = TextAreaField("Description")

    kind: Kind  # set on each generated subclass

    def values(self) -> dict:
        """Submitted values for the service (an empty key lets the service make one from the name)."""
        skip = {"version"} | {n for n in self._fields if n.startswith("prov_")}
        return {name: field.data for name, field in self._fields.items() if name not in skip}

    def provenance(self, current: dict) -> dict:
        """Provenance entries the person changed in the Sources section (unchanged ones are not sent)."""
        given = {}
        for number in self.kind.numbers:
            basis = self[f"prov_{number}_basis"].data or ""
            ref = (self[f"prov_{number}_ref"].data or "").strip()
            saved = (current or {}).get(number, {})
            if not basis or (basis == saved.get("basis") and ref == saved.get("ref", "")):
                continue
            given[number] = {
                "basis": basis,
                "ref": ref,
                "note": "" if basis != saved.get("basis") else saved.get("note", ""),
            }
        return given

    @classmethod
    def from_item(cls, item) -> ItemForm:
        """A form showing a saved item (a row or an ORM object)."""
        data = {name: _text(getattr(item, name, None)) for name in cls.kind.fields}
        for flag in cls.kind.flags:
            data[flag] = bool(getattr(item, flag))
        return cls(data=data | {"version": item.version, "tags": ", ".join(getattr(item, "tags", None) or [])})

    @classmethod
    def from_request(cls, form: MultiDict) -> ItemForm:
        """A form bound to posted data."""
        return cls(formdata=MultiDict(form))


_CLASSES: dict[str, type[ItemForm]] = {}


def form_class(kind: Kind) -> type[ItemForm]:
    """The form for one kind, built once."""
    if kind.entity_type in _CLASSES:
        return _CLASSES[kind.entity_type]
    attrs: dict = {"kind": kind}
    for name, (enum_cls, _label) in kind.choices.items():
        attrs[name] = SelectField(
            name.replace("_", " ").capitalize(), choices=choices((m.value, option_label(m.value)) for m in enum_cls)
        )
    for flag in kind.flags:
        attrs[flag] = BooleanField(flag.replace("_", " ").capitalize())
    for rule in kind.plain:
        attrs[rule.field] = StringField(number_label(rule) if isinstance(rule, Number) else rule.label)
    for rule in kind.number_rules:
        attrs[rule.field] = StringField(number_label(rule))
        attrs[f"prov_{rule.field}_basis"] = SelectField("Basis", choices=BASIS_CHOICES, default="")
        attrs[f"prov_{rule.field}_ref"] = StringField("Reference")
    _CLASSES[kind.entity_type] = type(f"{kind.model.__name__}Form", (ItemForm,), attrs)
    return _CLASSES[kind.entity_type]


def is_date_rule(rule) -> bool:
    """Whether a plain rule is a calendar date (rendered as a date input)."""
    return isinstance(rule, Day)


class MaintenanceForm(Form):
    """Log maintenance on a module, optionally moving it to another status."""

    kind = SelectField(
        "What happened",
        choices=choices(
            (k.value, option_label(k.value)) for k in MaintenanceKind if k != MaintenanceKind.STATUS_CHANGE
        ),
    )
    status = SelectField(
        "Status afterwards",
        choices=choices([("", "Unchanged")] + [(s.value, option_label(s.value)) for s in ModuleStatus]),
    )
    downtime_h = StringField("Downtime (h)")
    note = TextAreaField("Note")


class ImportForm(Form):
    """Upload a CSV file."""

    file = FileField("CSV file")
