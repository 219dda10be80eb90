"""Sign-in form."""
from wtforms import EmailField, Form, HiddenField, PasswordField
from wtforms.validators import DataRequired, Email, Length


class LoginForm(Form):
    """Email + password; `next` is only ever followed when it is a local path."""

    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=128)])
    next = HiddenField()
