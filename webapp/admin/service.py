"""Platform staff: who may see every organization. Granted and revoked from the command line, audited."""

from __future__ import annotations

import getpass
import socket

from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core import audit
from webapp.core.errors import NotFound
from webapp.identity.queries import find_user_by_email


async def set_platform_staff(session: AsyncSession, email: str, *, staff: bool) -> bool:
    """Make the account with `email` platform staff (or not); False when it already was as asked. The audit row
    names the operating-system user and host that ran the command."""
    user = await find_user_by_email(session, email)
    if user is None:
        raise NotFound(f"No account uses {email}.")
    if user.is_platform_admin == staff:
        return False
    user.is_platform_admin = staff
    await session.flush()
    await audit.record(
        session,
        None,
        "platform.staff_granted" if staff else "platform.staff_revoked",
        entity_type="user",
        entity_id=user.id,
        organization_id=None,
        before={"is_platform_admin": not staff},
        after={"is_platform_admin": staff},
        metadata={"via": "cli", "os_user": getpass.getuser(), "host": socket.gethostname()},
    )
    return True
