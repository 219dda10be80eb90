"""Role, assignment and break-glass forms."""

from wtforms import (
    BooleanField,
    DateTimeLocalField,
    Form,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from webapp.core.forms import choices


class CheckboxesField(SelectMultipleField):
    """Several choices as a list of checkboxes."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class RoleForm(Form):
    """A custom role: name, purpose, permissions, an optional holder cap, break-glass or not."""

    name = StringField("Name", validators=[DataRequired(), Length(max=80)])
    description = StringField("What it is for", validators=[Optional(), Length(max=300)])
    permissions = CheckboxesField("Permissions")
    max_holders = IntegerField("At most this many people may hold it", validators=[Optional(), NumberRange(1, 100_000)])
    break_glass = BooleanField("Break-glass role: held only for a while, after a second member approves")
    version = HiddenField()


class CapForm(Form):
    """A system role's holder cap (the only thing about it that changes)."""

    max_holders = IntegerField("At most this many people may hold it", validators=[Optional(), NumberRange(1, 100_000)])
    version = HiddenField(validators=[DataRequired()])


class AssignmentForm(Form):
    """An extra role for a member, optionally until a moment."""

    user_id = SelectField("Member", validators=[DataRequired()])
    role_id = SelectField("Role", validators=[DataRequired()])
    mission_id = SelectField("For", validate_choice=False)
    expires_at = DateTimeLocalField("Until (UTC, optional)", format="%Y-%m-%dT%H:%M", validators=[Optional()])
    reason = StringField("Why (shown in the audit log)", validators=[Optional(), Length(max=500)])


class BreakGlassRequestForm(Form):
    """Ask for a break-glass role (the service checks the role is one)."""

    role_id = SelectField("Role", validators=[DataRequired()], validate_choice=False)
    reason = TextAreaField("What is the emergency?", validators=[DataRequired(), Length(min=20, max=1000)])
    minutes = SelectField(
        "For how long",
        choices=choices([("30", "30 minutes"), ("60", "1 hour"), ("120", "2 hours"), ("240", "4 hours (the most)")]),
        default="60",
    )


class ReviewForm(Form):
    """What was done under break-glass, and whether it was justified."""

    notes = TextAreaField("Review", validators=[DataRequired(), Length(min=10, max=2000)])
