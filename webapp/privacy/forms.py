"""Forms of the privacy pages."""

from __future__ import annotations

from wtforms import BooleanField, DateTimeLocalField, Form, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class PublishForm(Form):
    """A new version of a document, as staff publish it."""

    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    body = TextAreaField("Text (Markdown)", validators=[DataRequired(), Length(min=20, max=100_000)])
    requires_consent = BooleanField("People must accept this version to keep using ClosedLoop")
    effective_at = DateTimeLocalField(
        "In effect from (UTC; empty: now)", format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )


class AccessRequestForm(Form):
    """Ask for a copy of your data: your password again, so nobody at an unlocked screen can."""

    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=128)])


class DeletionRequestForm(Form):
    """Ask for your account and data to be erased: password, an optional reason, and a deliberate tick."""

    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=128)])
    reason = TextAreaField("Why? (optional)", validators=[Optional(), Length(max=2000)])
    confirm = BooleanField(
        "I understand that my account ends and cannot be restored; organizations keep their records under a pseudonym.",
        validators=[DataRequired(message="Tick the box to confirm.")],
    )


class StaffReasonForm(Form):
    """A reason staff give when they deny or extend a request (the person is told it)."""

    reason = TextAreaField("Reason (the person is told)", validators=[DataRequired(), Length(min=10, max=2000)])


class HoldForm(Form):
    """A legal hold on one user (by address) or one organization (by address in the URL)."""

    subject = StringField(
        "User email or organization address", validators=[DataRequired(), Length(max=254)],
        description="For example ada@example.com, or acme for the organization at /o/acme",
    )  # fmt: skip
    reason = TextAreaField("Reason", validators=[DataRequired(), Length(min=10, max=2000)])
    reference = StringField("Case or matter reference", validators=[DataRequired(), Length(max=200)])
    ends_at = DateTimeLocalField("Ends (UTC; empty: until lifted)", format="%Y-%m-%dT%H:%M", validators=[Optional()])


class LiftForm(Form):
    """Why a hold ends."""

    reason = TextAreaField("Why the hold ends", validators=[DataRequired(), Length(min=5, max=2000)])
