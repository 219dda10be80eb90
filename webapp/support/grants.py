"""Support access an organization grants: a window (at most 30 days) in which staff may impersonate its members,
revocable at any time; revoking it ends every impersonation running under it at once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core import audit
from webapp.core.errors import Conflict, NotFound, ValidationError
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext
from webapp.identity.models import AuthSession, User
from webapp.security.enums import SecurityEventType, Severity
from webapp.security.service import record_event
from webapp.support.models import ImpersonationSession, SupportAccessGrant

MAX_DAYS = 30


def _now() -> datetime:
    return datetime.now(UTC)


async def live_grant(session: AsyncSession, org_id: uuid.UUID) -> SupportAccessGrant | None:
    """The organization's open window, if any (not revoked, not expired)."""
    return (
        await session.execute(
            select(SupportAccessGrant)
            .where(
                SupportAccessGrant.organization_id == org_id,
                SupportAccessGrant.revoked_at.is_(None),
                SupportAccessGrant.expires_at > _now(),
            )
            .order_by(SupportAccessGrant.expires_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def grant(session: AsyncSession, ctx: RequestContext, *, days: int) -> SupportAccessGrant:
    """Open a window of `days` (1–30); one window at a time (409 while one is open)."""
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationError.field("days", f"Grant support access for 1 to {MAX_DAYS} days.")
    if await live_grant(session, ctx.org_id) is not None:
        raise Conflict("Support access is already granted; revoke it first to change its length.")
    now = _now()
    window = SupportAccessGrant(
        id=new_id(), organization_id=ctx.org_id, granted_by=ctx.user_id, created_at=now,
        expires_at=now + timedelta(days=days),
    )  # fmt: skip
    session.add(window)
    await session.flush()
    await audit.record(session, ctx, "support_access.grant", entity_type="support_access", entity_id=window.id,
                       after={"expires_at": window.expires_at, "days": days})  # fmt: skip
    await record_event(session, ctx, SecurityEventType.SUPPORT_ACCESS_GRANTED, severity=Severity.WARNING,
                       metadata={"grant_id": window.id, "expires_at": window.expires_at})  # fmt: skip
    return window


async def revoke(session: AsyncSession, ctx: RequestContext, grant_id: uuid.UUID) -> SupportAccessGrant:
    """Close the window now and end every impersonation under it (their sessions stop at the next request)."""
    window = (
        await session.execute(
            select(SupportAccessGrant)
            .where(SupportAccessGrant.id == grant_id, SupportAccessGrant.organization_id == ctx.org_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if window is None:
        raise NotFound("No such support access grant.")
    if window.revoked_at is not None or window.expires_at <= _now():
        raise Conflict("This support access has already ended.")
    window.revoked_at, window.revoked_by = _now(), ctx.user_id
    ended = await end_impersonations(session, ImpersonationSession.grant_id == window.id, reason="access_revoked")
    await audit.record(session, ctx, "support_access.revoke", entity_type="support_access", entity_id=window.id,
                       after={"impersonations_ended": ended})  # fmt: skip
    await record_event(session, ctx, SecurityEventType.SUPPORT_ACCESS_REVOKED, severity=Severity.WARNING,
                       metadata={"grant_id": window.id, "impersonations_ended": ended})  # fmt: skip
    return window


async def end_impersonations(session: AsyncSession, where, *, reason: str) -> int:
    """End the live impersonations matching `where` and revoke their browser sessions; returns how many."""
    now = _now()
    ended = (
        (
            await session.execute(
                update(ImpersonationSession)
                .where(where, ImpersonationSession.ended_at.is_(None))
                .values(ended_at=now, end_reason=reason)
                .returning(ImpersonationSession.id)
                .execution_options(synchronize_session=False)
            )
        )
        .scalars()
        .all()
    )
    if ended:
        await session.execute(
            update(AuthSession)
            .where(AuthSession.impersonation_id.in_(ended), AuthSession.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=f"impersonation_{reason}"[:60])
            .execution_options(synchronize_session=False)
        )
    return len(ended)


async def history(session: AsyncSession, org_id: uuid.UUID, limit: int = 50) -> tuple[list, list]:
    """The organization's grants and the impersonation sessions under them, newest first, with names."""
    grants = (
        await session.execute(
            select(SupportAccessGrant, User.name.label("granted_by_name"))
            .outerjoin(User, User.id == SupportAccessGrant.granted_by)
            .where(SupportAccessGrant.organization_id == org_id)
            .order_by(SupportAccessGrant.created_at.desc())
            .limit(limit)
        )
    ).all()
    from sqlalchemy.orm import aliased

    staff, person = aliased(User), aliased(User)
    sessions = (
        await session.execute(
            select(ImpersonationSession, staff.name.label("staff_name"), person.name.label("user_name"),
                   person.email.label("user_email"))
            .outerjoin(staff, staff.id == ImpersonationSession.staff_user_id)
            .outerjoin(person, person.id == ImpersonationSession.user_id)
            .where(ImpersonationSession.organization_id == org_id)
            .order_by(ImpersonationSession.started_at.desc())
            .limit(limit)
        )
    ).all()  # fmt: skip
    return grants, sessions
