"""Organization writes: organizations, members, invitations."""

from webapp.organizations.service.invitations import (  # noqa: F401
    accept_invitation,
    invite_member,
    resend_invitation,
    revoke_invitation,
)
from webapp.organizations.service.members import change_member_role, remove_member  # noqa: F401
from webapp.organizations.service.orgs import (  # noqa: F401
    add_member,
    create_organization,
    create_organization_for,
    delete_organization,
    restore_organization,
    set_status_as_platform,
    suggest_slug,
    update_organization,
    validate_slug,
)
