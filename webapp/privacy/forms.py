"""Forms of the privacy pages."""

from __future__ import annotations

from wtforms import BooleanField, DateTimeLocalField, Form, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class PublishForm(Form):
    """A new version of a document, as staff publish it."""

    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    body = TextAreaField("Text (Markdown)", validators=[DataRequired(), Length(min=20, max=100_000)])
    requires_consent = BooleanField("People must accept this version to keep using ClosedLoop")
    effective_at = DateTimeLocalField(
        "In effect from (UTC; empty: now)", format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
