"""Legal holds (GDPR Art. 17(3)(e)): staff preserve a user's or an organization's data for a legal claim; while a
hold is active neither retention nor erasure touches what it covers. Placing and lifting are audited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core import audit
from webapp.core.errors import Conflict, NotFound, ValidationError
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext
from webapp.privacy.models import LegalHold


@dataclass(frozen=True)
class Held:
    """Who active holds cover at one moment: ids of users and of organizations."""

    users: list[uuid.UUID]
    organizations: list[uuid.UUID]


def _active(now: datetime):
    return (
        (LegalHold.lifted_at.is_(None))
        & (LegalHold.starts_at <= now)
        & (or_(LegalHold.ends_at.is_(None), LegalHold.ends_at > now))
    )


async def held(session: AsyncSession, now: datetime | None = None) -> Held:
    """Every user and organization under an active hold (the caller runs with the RLS bypass)."""
    rows = (await session.execute(select(LegalHold.user_id, LegalHold.organization_id).where(
        _active(now or datetime.now(UTC))))).all()  # fmt: skip
    return Held(
        users=sorted({r.user_id for r in rows if r.user_id}), organizations=sorted({r.organization_id for r in rows
                                                                                     if r.organization_id}),
    )  # fmt: skip


async def holds_covering_user(session: AsyncSession, user_id: uuid.UUID, now: datetime | None = None) -> list:
    """Active holds on the user, or on an organization the user belongs to (its records name them)."""
    from webapp.organizations.models import Membership

    member_of = select(Membership.organization_id).where(Membership.user_id == user_id, Membership.deleted_at.is_(None))
    found = await session.execute(
        select(LegalHold)
        .where(_active(now or datetime.now(UTC)))
        .where(or_(LegalHold.user_id == user_id, LegalHold.organization_id.in_(member_of)))
        .order_by(LegalHold.starts_at)
    )
    return list(found.scalars())


async def all_holds(session: AsyncSession) -> list[LegalHold]:
    """Every hold, active first, newest first (staff page)."""
    rows = await session.execute(
        select(LegalHold).order_by(LegalHold.lifted_at.is_not(None), LegalHold.starts_at.desc()).limit(500)
    )
    return list(rows.scalars())


async def place(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    user_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
    reason: str,
    reference: str,
    ends_at: datetime | None = None,
) -> LegalHold:
    """Place a hold on exactly one user or organization (audited)."""
    if (user_id is None) == (organization_id is None):
        raise ValidationError.field("subject", "Hold exactly one user or one organization.")
    now = datetime.now(UTC)
    if ends_at is not None and ends_at <= now:
        raise ValidationError.field("ends_at", "The end must be in the future (or leave it empty).")
    hold = LegalHold(
        id=new_id(), user_id=user_id, organization_id=organization_id, reason=reason.strip(),
        reference=reference.strip(), starts_at=now, ends_at=ends_at, placed_by=ctx.user_id,
    )  # fmt: skip
    session.add(hold)
    await session.flush()
    await audit.record(
        session, ctx, "privacy.legal_hold_placed", entity_type="privacy_legal_hold", entity_id=hold.id,
        after={"user_id": user_id, "organization_id": organization_id, "reference": hold.reference,
               "ends_at": ends_at.isoformat() if ends_at else None},
        organization_id=organization_id,
    )  # fmt: skip
    return hold


async def lift(session: AsyncSession, ctx: RequestContext, hold_id: uuid.UUID, *, reason: str) -> LegalHold:
    """Lift an active hold with the reason (audited); retention and waiting erasures resume."""
    hold = await session.get(LegalHold, hold_id, with_for_update=True)
    if hold is None:
        raise NotFound("No such hold.")
    if hold.lifted_at is not None:
        raise Conflict("That hold was already lifted.")
    hold.lifted_at, hold.lifted_by, hold.lift_reason = datetime.now(UTC), ctx.user_id, reason.strip()
    await session.flush()
    await audit.record(
        session, ctx, "privacy.legal_hold_lifted", entity_type="privacy_legal_hold", entity_id=hold.id,
        metadata={"reason": hold.lift_reason, "reference": hold.reference}, organization_id=hold.organization_id,
    )  # fmt: skip
    return hold
