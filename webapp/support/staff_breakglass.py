"""Staff break-glass: a staff member asks with a written reason and a length (5 minutes – 4 hours), a second staff
member approves, the grant ends by itself or when its holder ends it. Needed (with the organization's support
access) to impersonate anyone. Callers open the audited bypass (the table is staff only)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core import audit
from webapp.core.errors import Conflict, Forbidden, NotFound, ValidationError
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext
from webapp.iam.breakglass import MAX_MINUTES, MAX_REASON, MIN_MINUTES, MIN_REASON
from webapp.iam.enums import BreakGlassStatus
from webapp.security.enums import SecurityEventType, Severity
from webapp.security.service import record_event
from webapp.support.models import ImpersonationSession, StaffBreakGlass


def _now() -> datetime:
    return datetime.now(UTC)


async def request(session: AsyncSession, ctx: RequestContext, *, reason: str, minutes: int) -> StaffBreakGlass:
    """Ask for staff break-glass; nothing is granted until another staff member approves."""
    reason = (reason or "").strip()
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        raise ValidationError.field("reason", f"Explain the emergency in {MIN_REASON}–{MAX_REASON} characters.")
    if not isinstance(minutes, int) or not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise ValidationError.field("minutes", f"Between {MIN_MINUTES} minutes and 4 hours.")
    grant = StaffBreakGlass(id=new_id(), user_id=ctx.user_id, reason=reason, minutes=minutes, created_at=_now())
    session.add(grant)
    await session.flush()
    await audit.record(session, ctx, "staff_break_glass.request", entity_type="staff_break_glass",
                       entity_id=grant.id, after={"reason": reason, "minutes": minutes},
                       organization_id=None)  # fmt: skip
    await record_event(session, ctx, SecurityEventType.BREAK_GLASS_REQUESTED, severity=Severity.WARNING,
                       metadata={"staff_break_glass_id": grant.id}, organization_id=None)  # fmt: skip
    return grant


async def _locked(session: AsyncSession, grant_id: uuid.UUID) -> StaffBreakGlass:
    grant = (
        await session.execute(select(StaffBreakGlass).where(StaffBreakGlass.id == grant_id).with_for_update())
    ).scalar_one_or_none()
    if grant is None:
        raise NotFound("No such break-glass request.")
    return grant


async def approve(session: AsyncSession, ctx: RequestContext, grant_id: uuid.UUID) -> StaffBreakGlass:
    """A second staff member grants it; the clock starts now."""
    grant = await _locked(session, grant_id)
    if grant.user_id == ctx.user_id:
        raise Forbidden("You cannot approve your own break-glass request: a second staff member must.")
    if grant.status != BreakGlassStatus.PENDING:
        raise Conflict("This request is no longer waiting for approval.")
    now = _now()
    grant.status, grant.approved_by, grant.approved_at = BreakGlassStatus.APPROVED, ctx.user_id, now
    grant.expires_at = now + timedelta(minutes=grant.minutes)
    await audit.record(session, ctx, "staff_break_glass.approve", entity_type="staff_break_glass",
                       entity_id=grant.id, after={"expires_at": grant.expires_at}, organization_id=None)  # fmt: skip
    await record_event(session, ctx, SecurityEventType.BREAK_GLASS_ACTIVATED, severity=Severity.CRITICAL,
                       user_id=grant.user_id, organization_id=None,
                       metadata={"activation_id": grant.id, "approved_by": ctx.user_id, "staff": True})  # fmt: skip
    return grant


async def end(session: AsyncSession, ctx: RequestContext, grant_id: uuid.UUID) -> StaffBreakGlass:
    """Its holder (or another staff member) ends it early; impersonations under it end with it."""
    from webapp.support.grants import end_impersonations

    grant = await _locked(session, grant_id)
    if grant.status not in (BreakGlassStatus.PENDING, BreakGlassStatus.APPROVED):
        raise Conflict("This break-glass grant has already ended.")
    grant.status = BreakGlassStatus.CANCELLED if grant.status == BreakGlassStatus.PENDING else BreakGlassStatus.ENDED
    grant.ended_at = _now()
    await end_impersonations(session, ImpersonationSession.break_glass_id == grant.id, reason="break_glass_ended")
    await audit.record(session, ctx, "staff_break_glass.end", entity_type="staff_break_glass", entity_id=grant.id,
                       organization_id=None)  # fmt: skip
    return grant


async def active(session: AsyncSession, user_id: uuid.UUID) -> StaffBreakGlass | None:
    """The staff member's approved, unexpired grant, if any."""
    return (
        await session.execute(
            select(StaffBreakGlass)
            .where(
                StaffBreakGlass.user_id == user_id,
                StaffBreakGlass.status == BreakGlassStatus.APPROVED,
                StaffBreakGlass.ended_at.is_(None),
                StaffBreakGlass.expires_at > _now(),
            )
            .order_by(StaffBreakGlass.expires_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def recent(session: AsyncSession, limit: int = 30) -> list[StaffBreakGlass]:
    """Recent staff break-glass requests, newest first."""
    return list(
        (await session.execute(select(StaffBreakGlass).order_by(StaffBreakGlass.created_at.desc()).limit(limit)))
        .scalars()
        .all()
    )
