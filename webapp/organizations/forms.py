"""Invitation and member forms."""
from wtforms import EmailField, Form, HiddenField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from webapp.identity.forms import PASSWORD_LENGTH, real_email


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
    confirm = PasswordField("Repeat the password",
                            validators=[DataRequired(), EqualTo("password", message="The two passwords differ.")])
