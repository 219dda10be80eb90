"""Member writes: change a member's main role, remove a member; an organization always keeps an owner."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core import audit
from webapp.core.errors import Conflict, Forbidden, ValidationError
from webapp.core.permissions import SystemRole
from webapp.core.tenancy import RequestContext
from webapp.iam import queries as iam_queries
from webapp.iam import service as iam
from webapp.iam.catalog import role_permissions
from webapp.iam.models import Role
from webapp.organizations.models import Membership
from webapp.organizations.queries import get_live_membership


async def _guard_owner_change(session: AsyncSession, ctx: RequestContext, membership: Membership, old: Role) -> None:
    """Owners are made and unmade by owners, and the last owner stays."""
    if old.key != SystemRole.OWNER:
        return
    if not iam.can_manage_owners(ctx):
        raise Forbidden("Only an owner can change another owner's role or remove them.")
    if await iam_queries.count_holders(session, ctx.org_id, old.id, exclude_user=membership.user_id) == 0:
        raise Conflict("An organization needs at least one owner. Make someone else owner first.")


async def change_member_role(
    session: AsyncSession,
    ctx: RequestContext,
    user_id: uuid.UUID,
    *,
    role_id: uuid.UUID,
    version: int | None = None,
) -> Membership:
    """Give a member another main role; `version` (when given) guards against a stale form."""
    membership = await get_live_membership(session, ctx.org_id, user_id, lock=True)
    old = await iam_queries.get_role(session, ctx.org_id, membership.role_id)
    if version is not None and membership.version != version:
        raise Conflict(
            details={
                "current": {
                    "role_id": str(old.id),
                    "role": old.key,
                    "role_name": old.name,
                    "version": membership.version,
                }
            }
        )
    new = await iam_queries.get_role(session, ctx.org_id, role_id)
    if new.id == old.id:
        return membership
    if new.break_glass:
        raise ValidationError(
            "A break-glass role cannot be a main role.", {"fields": {"role_id": ["Break-glass role."]}}
        )
    if new.key == SystemRole.OWNER and not iam.can_manage_owners(ctx):
        raise Forbidden("Only an owner can make someone an owner.")
    await _guard_owner_change(session, ctx, membership, old)
    iam.ensure_can_grant(ctx, role_permissions(new.key, new.is_system, new.permissions))
    await iam.check_cap(session, ctx.org_id, new, user_id)
    membership.role_id = new.id
    await session.flush()
    await audit.record(
        session,
        ctx,
        "membership.role_change",
        entity_type="membership",
        entity_id=membership.id,
        before={"user_id": user_id, "role": old.key},
        after={"user_id": user_id, "role": new.key},
    )
    return membership


async def remove_member(session: AsyncSession, ctx: RequestContext, user_id: uuid.UUID) -> Membership:
    """Remove a member: membership soft-deleted; their assignments, API keys and break-glass end with it."""
    from webapp.apikeys import service as apikeys
    from webapp.billing.tasks import sync_seats_after_commit
    from webapp.iam import breakglass
    from webapp.identity import service as identity
    from webapp.missions import service as missions

    membership = await get_live_membership(session, ctx.org_id, user_id, lock=True)
    role = await iam_queries.get_role(session, ctx.org_id, membership.role_id)
    await _guard_owner_change(session, ctx, membership, role)
    membership.deleted_at = datetime.now(UTC)
    await session.flush()
    ended = {
        "assignments": await iam.revoke_member_assignments(session, ctx, membership.id),
        "api_keys": await apikeys.delete_member_keys(session, ctx, membership.id),
        "break_glass": await breakglass.end_member_activations(session, ctx, membership.id),
        "api_sessions": await identity.revoke_org_sessions(
            session, ctx, user_id, ctx.org_id, reason="membership_removed"
        ),
        "crew_seats": await missions.end_crew_assignments(session, ctx, user_id),
    }
    await audit.record(
        session,
        ctx,
        "membership.remove",
        entity_type="membership",
        entity_id=membership.id,
        before={"user_id": user_id, "role": role.key},
        metadata={"ended": ended},
    )
    from webapp.integrations import outbox

    await outbox.emit(session, ctx.org_id, "member.removed", {"user_id": user_id, "role": role.key})
    sync_seats_after_commit(session, ctx.org_id)  # the seat they held is released
    return membership
