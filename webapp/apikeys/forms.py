"""The new-key form."""

from wtforms import Form, SelectField, SelectMultipleField, StringField, widgets
from wtforms.validators import DataRequired, Length

from webapp.core.forms import choices

EXPIRY_CHOICES = choices([("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("never", "No expiry")])


class ApiKeyForm(Form):
    """Name, scopes (a subset of the creator's permissions) and lifetime."""

    name = StringField("Name", validators=[DataRequired(), Length(max=80)])
    permissions = SelectMultipleField(
        "Scopes", option_widget=widgets.CheckboxInput(), widget=widgets.ListWidget(prefix_label=False)
    )
    expires_in = SelectField("Expires after", choices=EXPIRY_CHOICES, default="90")
