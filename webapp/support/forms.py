"""Forms of support access, staff break-glass and impersonation."""

from __future__ import annotations

from wtforms import Form, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, NumberRange


class GrantForm(Form):
    """An organization admin opens a support-access window."""

    days = SelectField(
        "Let ClosedLoop support in for",
        choices=[("1", "1 day"), ("3", "3 days"), ("7", "7 days"), ("14", "14 days"), ("30", "30 days")],
        default="7",
    )


class StaffBreakGlassForm(Form):
    """A staff member asks for emergency access."""

    reason = TextAreaField(
        "Why (a second staff member reads this)", validators=[DataRequired(), Length(min=20, max=1000)]
    )
    minutes = IntegerField("For how many minutes", default=60, validators=[DataRequired(), NumberRange(5, 240)])


class ImpersonateForm(Form):
    """Staff act as a user."""

    email = StringField("The person's email address", validators=[DataRequired(), Email(), Length(max=254)])
    reason = TextAreaField("Why you must act as them", validators=[DataRequired(), Length(min=10, max=1000)])
    ticket = StringField("Support ticket", validators=[DataRequired(), Length(min=2, max=100)])
