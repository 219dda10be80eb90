"""Organization, invitation and member forms."""

from wtforms import (
    BooleanField,
    EmailField,
    Form,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from webapp.core.forms import choices
from webapp.identity.forms import PASSWORD_LENGTH, SLUG, real_email


class InviteForm(Form):
    """Who to invite and with which main role (choices: the roles the inviter may hand out)."""

    email = EmailField("Email address", validators=[DataRequired(), Length(max=254), real_email])
    role_id = SelectField("Role", validators=[DataRequired()])


class RoleChangeForm(Form):
    """A member's new main role, with the membership version the page showed."""

    role_id = StringField(validators=[DataRequired(), Length(max=36)])
    version = IntegerField(validators=[DataRequired()])


class AcceptNewAccountForm(Form):
    """Accepting an invitation by creating an account for the invited address."""

    token = HiddenField(validators=[DataRequired(), Length(max=128)])
    name = StringField("Your name", validators=[DataRequired(), Length(max=120)])
    password = PasswordField("Choose a password", validators=[DataRequired(), PASSWORD_LENGTH])
    confirm = PasswordField(
        "Repeat the password", validators=[DataRequired(), EqualTo("password", message="The two passwords differ.")]
    )
    accept_terms = BooleanField(
        "I accept the terms of service and have read the privacy notice",
        validators=[DataRequired(message="Accept the terms and the privacy notice to create an account.")],
    )


class OrganizationForm(Form):
    """Create an organization: a name and its address."""

    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    slug = StringField("Address", validators=[Optional(), Length(max=48), SLUG])


class OrganizationSettingsForm(Form):
    """Edit the organization; `version` catches an edit made elsewhere meanwhile."""

    version = HiddenField()
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    slug = StringField("Address", validators=[DataRequired(), Length(max=48), SLUG])
    archived = BooleanField("Archived (read-only)")


class DeleteOrganizationForm(Form):
    """Type the address to confirm."""

    confirm = StringField("Type the organization's address to confirm", validators=[DataRequired(), Length(max=48)])


class PlatformStatusForm(Form):
    """Platform staff change an organization's status with a reason."""

    status = SelectField(
        "Status", choices=choices([("active", "Active"), ("suspended", "Suspended"), ("archived", "Archived")])
    )
    reason = StringField("Reason", validators=[DataRequired(), Length(min=10, max=500)])
