"""The new-key form."""

from wtforms import Form, SelectField, SelectMultipleField, StringField, widgets
from wtforms.validators import DataRequired, Length

from webapp.core.forms import choices

# permissions an "operator" key adds to reading: running the day-to-day work, not administering the organization
OPERATOR_WRITES = frozenset(
    {"missions:write", "crew:write", "simulations:run", "products:write", "modules:operate", "ops:run"}
)
PRESETS = (
    ("read", "Read-only", "Reads everything you can read"),
    ("operator", "Operator", "Reads, plus runs simulations and records products, missions, crews and module states"),
    ("admin", "Admin", "Every permission you hold"),
)


def presets_of(permission: str) -> str:
    """The presets (space separated, for data-presets) that tick `permission`."""
    names = ["admin"]
    if permission.endswith(":read"):
        names += ["read", "operator"]
    elif permission in OPERATOR_WRITES:
        names.append("operator")
    return " ".join(sorted(names))


EXPIRY_CHOICES = choices([("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("never", "No expiry")])


class ApiKeyForm(Form):
    """Name, scopes (a subset of the creator's permissions) and lifetime."""

    name = StringField("Name", validators=[DataRequired(), Length(max=80)])
    permissions = SelectMultipleField(
        "Scopes", option_widget=widgets.CheckboxInput(), widget=widgets.ListWidget(prefix_label=False)
    )
    expires_in = SelectField("Expires after", choices=EXPIRY_CHOICES, default="90")
