"""Sign-in, sign-up and account-recovery forms."""

from email_validator import EmailNotValidError, validate_email
from wtforms import (
    BooleanField,
    EmailField,
    Form,
    HiddenField,
    PasswordField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    EqualTo,
    Length,
    Optional,
    Regexp,
    ValidationError,
)

PASSWORD_LENGTH = Length(min=8, max=128, message="Use at least 8 characters (and at most 128).")

# Sign-in only needs something shaped like an address; sign-up checks it properly.
EMAIL_SHAPE = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="Enter an email address like name@example.org.")
SLUG = Regexp(
    r"^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$", message="Use 1-48 lower-case letters, digits or inner hyphens."
)


def real_email(form, field) -> None:
    """A syntactically valid address (no DNS lookups: sign-up must work offline)."""
    try:
        field.data = validate_email(field.data or "", check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError as exc:
        raise ValidationError(str(exc)) from exc


class LoginForm(Form):
    """Email + password; `next` is only ever followed when it is a local path."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254), EMAIL_SHAPE])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=128)])
    next = HiddenField()


class SignUpForm(Form):
    """A new account and the organization it will own."""

    name = StringField("Your name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("Work email", validators=[DataRequired(), Length(max=254), real_email])
    password = PasswordField("Password", validators=[DataRequired(), PASSWORD_LENGTH])
    org_name = StringField("Organization or mission name", validators=[DataRequired(), Length(max=120)])
    org_slug = StringField("Organization address", validators=[Optional(), Length(max=48), SLUG])
    accept_terms = BooleanField(
        "I accept the terms of service and have read the privacy notice",
        validators=[DataRequired(message="Accept the terms and the privacy notice to create an account.")],
    )
    product_news = BooleanField("Email me product news now and then (optional; stop any time)")


class ForgotPasswordForm(Form):
    """Where to send a reset link."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254), EMAIL_SHAPE])


class ResetPasswordForm(Form):
    """A new password from a reset link."""

    token = HiddenField(validators=[DataRequired(), Length(max=128)])
    password = PasswordField("New password", validators=[DataRequired(), PASSWORD_LENGTH])
    confirm = PasswordField(
        "Repeat the new password", validators=[DataRequired(), EqualTo("password", message="The two passwords differ.")]
    )


class TokenForm(Form):
    """A single-use link's token, confirmed with a button (links never change state on GET)."""

    token = HiddenField(validators=[DataRequired(), Length(max=128)])


class MfaChallengeForm(Form):
    """The second step of signing in: a code from the app, or a recovery code."""

    code = StringField("Code", validators=[DataRequired(), Length(max=16)])


class MfaEnableForm(Form):
    """Confirm enrolment: the sealed secret from the page, a first code, and the current password."""

    sealed = HiddenField(validators=[DataRequired(), Length(max=400)])
    code = StringField("6-digit code from the app", validators=[DataRequired(), Length(max=16)])
    password = PasswordField("Current password", validators=[DataRequired(), Length(max=128)])


class MfaDisableForm(Form):
    """Turning MFA off needs the password and a current code."""

    code = StringField("Code from the app, or a recovery code", validators=[DataRequired(), Length(max=16)])
    password = PasswordField("Current password", validators=[DataRequired(), Length(max=128)])


class PasswordConfirmForm(Form):
    """Re-authentication before a sensitive change."""

    password = PasswordField("Current password", validators=[DataRequired(), Length(max=128)])


class ProfileForm(Form):
    """The name; `version` catches an edit made elsewhere meanwhile (format and time zone are settings)."""

    version = HiddenField()
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])


class EmailChangeForm(Form):
    """A new address (confirmed by a link sent to it) and the current password."""

    email = EmailField("New email address", validators=[DataRequired(), Length(max=254), real_email])
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=128)])
    end_other_sessions = BooleanField("Sign out my other sessions", default=False)


class PasswordChangeForm(Form):
    """Current password, the new one twice, and whether other sessions end."""

    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=128)])
    password = PasswordField("New password", validators=[DataRequired(), PASSWORD_LENGTH])
    confirm = PasswordField(
        "Repeat the new password", validators=[DataRequired(), EqualTo("password", message="The two passwords differ.")]
    )
    end_other_sessions = BooleanField("Sign out my other sessions", default=True)


class DeactivateForm(Form):
    """The password again before the account stops."""

    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=128)])
    reason = TextAreaField("Why are you leaving? (optional)", validators=[Optional(), Length(max=2000)])
    confirm = BooleanField(
        "I understand that I will be signed out everywhere and my API keys will be deleted.",
        validators=[DataRequired(message="Tick the box to confirm.")],
    )
