"""Organization writes: organizations, members, invitations."""
from webapp.organizations.service.invitations import (  # noqa: F401
    accept_invitation,
    invite_member,
    resend_invitation,
    revoke_invitation,
)
from webapp.organizations.service.members import change_member_role, remove_member  # noqa: F401
from webapp.organizations.service.orgs import add_member, create_organization, validate_slug  # noqa: F401
