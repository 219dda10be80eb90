"""Sign-in form."""
from wtforms import EmailField, Form, HiddenField, PasswordField
from wtforms.validators import DataRequired, Length, Regexp

# Sign-in only needs something shaped like an address; full validation happens at sign-up.
EMAIL_SHAPE = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="Enter an email address like name@example.org.")


class LoginForm(Form):
    """Email + password; `next` is only ever followed when it is a local path."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254), EMAIL_SHAPE])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=128)])
    next = HiddenField()
