"""The endpoint form of the webhooks page."""

from wtforms import BooleanField, Form, SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.validators import DataRequired, Length

from webapp.core.forms import choices
from webapp.integrations.outbox import EVENT_TYPES

SUBSCRIBABLE = choices((k, k) for k in EVENT_TYPES if k != "webhook.test")


class EndpointForm(Form):
    """URL, what it is for, the event types it takes (none ticked: every type), enabled."""

    url = StringField("Endpoint URL", validators=[DataRequired(), Length(max=2000)])
    description = TextAreaField("Description", validators=[Length(max=500)])
    event_types = SelectMultipleField("Events", choices=SUBSCRIBABLE, option_widget=widgets.CheckboxInput(),
                                      widget=widgets.ListWidget(prefix_label=False))  # fmt: skip
    enabled = BooleanField("Enabled", default=True)
