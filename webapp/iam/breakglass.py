"""Break-glass: a member asks for a break-glass role with a written reason, a second member approves, the grant
ends by itself (at most 4 h), every action under it is marked in the audit log, and someone reviews it after."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import String, cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core import audit
from webapp.core.errors import Conflict, Forbidden, NotFound, ValidationError
from webapp.core.ids import new_id
from webapp.core.permissions import Perm
from webapp.core.tenancy import RequestContext
from webapp.iam import queries
from webapp.iam.enums import BreakGlassStatus
from webapp.iam.models import BreakGlassActivation, Role
from webapp.security.enums import SecurityEventType, Severity
from webapp.security.service import record_event

MIN_REASON, MAX_REASON = 20, 1000
MIN_MINUTES, MAX_MINUTES = 5, 240


def _now() -> datetime:
    return datetime.now(UTC)


async def request_activation(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    role_id: uuid.UUID,
    reason: str,
    minutes: int,
    base_url: str = "",
) -> BreakGlassActivation:
    """Ask for a break-glass role; nothing is granted until another member approves (approvers are emailed)."""
    from webapp.organizations.queries import get_live_membership

    role = await queries.get_role(session, ctx.org_id, role_id)
    if not role.break_glass:
        raise ValidationError.field("role_id", "This is not a break-glass role.")
    reason = (reason or "").strip()
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        raise ValidationError.field("reason", f"Explain the emergency in {MIN_REASON}–{MAX_REASON} characters.")
    try:
        minutes = int(minutes)
    except (TypeError, ValueError):
        raise ValidationError.field("minutes", "Enter a number of minutes.") from None
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise ValidationError.field("minutes", f"Between {MIN_MINUTES} minutes and 4 hours.")
    membership = await get_live_membership(session, ctx.org_id, ctx.user_id)
    open_ = (
        await session.execute(
            select(BreakGlassActivation.id).where(
                BreakGlassActivation.membership_id == membership.id,
                BreakGlassActivation.role_id == role.id,
                BreakGlassActivation.status == BreakGlassStatus.PENDING,
            )
        )
    ).first()
    if open_ is not None:
        raise Conflict("You already have a pending request for this role.")
    activation = BreakGlassActivation(
        id=new_id(),
        organization_id=ctx.org_id,
        membership_id=membership.id,
        user_id=ctx.user_id,
        role_id=role.id,
        reason=reason,
        minutes=minutes,
    )
    session.add(activation)
    await session.flush()
    await audit.record(
        session,
        ctx,
        "break_glass.request",
        entity_type="break_glass",
        entity_id=activation.id,
        after={"role": role.key, "reason": reason, "minutes": minutes},
    )
    await record_event(
        session,
        ctx,
        SecurityEventType.BREAK_GLASS_REQUESTED,
        severity=Severity.WARNING,
        metadata={"activation_id": activation.id, "role": role.key},
    )
    await _email_approvers(session, ctx, role.name, reason, minutes, base_url)
    return activation


async def _email_approvers(
    session: AsyncSession, ctx: RequestContext, role_name: str, reason: str, minutes: int, base_url: str
) -> None:
    """An emergency waits on a second person: tell everyone whose main role may approve."""
    from webapp.identity.profile import wants_email
    from webapp.mail.service import queue_email
    from webapp.organizations.queries import list_members

    granting = {
        r.id
        for r in await queries.list_roles(session, ctx.org_id, with_holders=False)
        if Perm.BREAKGLASS_APPROVE in r.permissions
    }
    for member in await list_members(session, ctx.org_id):
        if (
            member.role_id in granting
            and member.user_id != ctx.user_id
            and member.active
            and await wants_email(session, member.user_id, "approval_requests")
        ):
            await queue_email(
                session,
                to=member.email,
                template="break_glass_request",
                user_id=member.user_id,
                requester=ctx.user_name or "A member",
                org_name=ctx.org_name or "",
                role_name=role_name,
                reason=reason,
                minutes=minutes,
                link=f"{base_url}/o/{ctx.org_slug}/break-glass",
            )


async def _locked(session: AsyncSession, ctx: RequestContext, activation_id: uuid.UUID) -> BreakGlassActivation:
    stmt = select(BreakGlassActivation).where(
        BreakGlassActivation.id == activation_id, BreakGlassActivation.organization_id == ctx.org_id
    )
    activation = (await session.execute(stmt.with_for_update())).scalar_one_or_none()
    if activation is None:
        raise NotFound("No such break-glass request.")
    return activation


def _require_second_person(ctx: RequestContext, activation: BreakGlassActivation, what: str) -> None:
    if not ctx.can(Perm.BREAKGLASS_APPROVE):
        raise Forbidden(f"Only members who may approve break-glass requests can {what} them.")
    if activation.user_id == ctx.user_id:
        raise Forbidden(f"You cannot {what} your own break-glass request: a second member must.")


async def approve(session: AsyncSession, ctx: RequestContext, activation_id: uuid.UUID) -> BreakGlassActivation:
    """A second member grants the request; the clock starts now."""
    activation = await _locked(session, ctx, activation_id)
    _require_second_person(ctx, activation, "approve")
    if activation.status != BreakGlassStatus.PENDING:
        raise Conflict("This request is no longer waiting for approval.")
    now = _now()
    activation.status = BreakGlassStatus.APPROVED
    activation.approved_by, activation.approved_at = ctx.user_id, now
    activation.expires_at = now + timedelta(minutes=activation.minutes)
    await session.flush()
    await audit.record(
        session,
        ctx,
        "break_glass.approve",
        entity_type="break_glass",
        entity_id=activation.id,
        after={"user_id": activation.user_id, "expires_at": activation.expires_at},
    )
    await record_event(
        session,
        ctx,
        SecurityEventType.BREAK_GLASS_ACTIVATED,
        severity=Severity.CRITICAL,
        user_id=activation.user_id,
        metadata={"activation_id": activation.id, "approved_by": ctx.user_id, "expires_at": activation.expires_at},
    )
    return activation


async def deny(session: AsyncSession, ctx: RequestContext, activation_id: uuid.UUID) -> BreakGlassActivation:
    """A second member turns the request down."""
    activation = await _locked(session, ctx, activation_id)
    _require_second_person(ctx, activation, "deny")
    if activation.status != BreakGlassStatus.PENDING:
        raise Conflict("This request is no longer waiting for approval.")
    activation.status = BreakGlassStatus.DENIED
    activation.approved_by = None
    activation.reviewed_by, activation.reviewed_at = ctx.user_id, _now()  # a denial needs no later review
    await session.flush()
    await audit.record(session, ctx, "break_glass.deny", entity_type="break_glass", entity_id=activation.id)
    return activation


async def end(session: AsyncSession, ctx: RequestContext, activation_id: uuid.UUID) -> BreakGlassActivation:
    """Stop early (the requester, or any approver) or withdraw a pending request (its requester only: an approver
    denies it instead, which says so)."""
    activation = await _locked(session, ctx, activation_id)
    if activation.user_id != ctx.user_id and not ctx.can(Perm.BREAKGLASS_APPROVE):
        raise NotFound("No such break-glass request.")
    if activation.status == BreakGlassStatus.PENDING and activation.user_id != ctx.user_id:
        raise Conflict("Only the person who asked can withdraw a request; deny it instead.")
    if activation.status == BreakGlassStatus.PENDING:
        activation.status = BreakGlassStatus.CANCELLED
    elif activation.status == BreakGlassStatus.APPROVED and activation.expires_at > _now():
        activation.status, activation.ended_at = BreakGlassStatus.ENDED, _now()
        await record_event(
            session,
            ctx,
            SecurityEventType.BREAK_GLASS_ENDED,
            user_id=activation.user_id,
            metadata={"activation_id": activation.id, "ended_by": ctx.user_id},
        )
    else:
        raise Conflict("This break-glass access has already ended.")
    await session.flush()
    await audit.record(
        session,
        ctx,
        "break_glass.end",
        entity_type="break_glass",
        entity_id=activation.id,
        after={"status": activation.status},
    )
    return activation


async def review(
    session: AsyncSession, ctx: RequestContext, activation_id: uuid.UUID, notes: str
) -> BreakGlassActivation:
    """After use, a second member records what was done and whether it was justified."""
    activation = await _locked(session, ctx, activation_id)
    _require_second_person(ctx, activation, "review")
    if activation.status not in (BreakGlassStatus.APPROVED, BreakGlassStatus.ENDED) or activation.reviewed_at:
        raise Conflict("Only used, unreviewed break-glass access can be reviewed.")
    if activation.status == BreakGlassStatus.APPROVED and activation.expires_at > _now():
        raise Conflict("This access is still active. End it first, or wait until it expires.")
    notes = (notes or "").strip()
    if not 10 <= len(notes) <= 2000:
        raise ValidationError.field("notes", "Write what was done and whether it was justified (10–2,000 characters).")
    activation.review_notes, activation.reviewed_by, activation.reviewed_at = notes, ctx.user_id, _now()
    await session.flush()
    await audit.record(
        session, ctx, "break_glass.review", entity_type="break_glass", entity_id=activation.id, after={"notes": notes}
    )
    return activation


async def end_member_activations(session: AsyncSession, ctx: RequestContext, membership_id: uuid.UUID) -> int:
    """Cancel pending and end active break-glass of a membership (the member leaves)."""
    ended = 0
    for current, new in (
        (BreakGlassStatus.PENDING, BreakGlassStatus.CANCELLED),
        (BreakGlassStatus.APPROVED, BreakGlassStatus.ENDED),
    ):
        result = await session.execute(
            update(BreakGlassActivation)
            .where(BreakGlassActivation.membership_id == membership_id, BreakGlassActivation.status == current)
            .values(status=new, ended_at=_now())
            .execution_options(synchronize_session=False)
        )
        ended += result.rowcount
    return ended


@dataclass(frozen=True)
class ActivationRow:
    """One break-glass request with names, state, and how many audited actions were taken under it."""

    id: uuid.UUID
    user_id: uuid.UUID
    user_name: str
    role_name: str
    reason: str
    minutes: int
    status: BreakGlassStatus
    created_at: datetime
    approved_by_name: str | None
    approved_at: datetime | None
    expires_at: datetime | None
    ended_at: datetime | None
    review_notes: str | None
    reviewed_at: datetime | None
    actions: int

    @property
    def active(self) -> bool:
        """Approved and not yet expired."""
        return self.status == BreakGlassStatus.APPROVED and self.expires_at is not None and self.expires_at > _now()

    @property
    def needs_review(self) -> bool:
        """Used and over, but nobody has reviewed it yet."""
        used = self.status == BreakGlassStatus.ENDED or (self.status == BreakGlassStatus.APPROVED and not self.active)
        return used and self.reviewed_at is None


async def list_activations(
    session: AsyncSession, org_id: uuid.UUID, *, user_id: uuid.UUID | None = None, limit: int = 50
) -> list[ActivationRow]:
    """Newest first; `actions` counts audit rows marked with the activation."""
    from webapp.core.audit import AuditLog
    from webapp.identity.queries import user_aliases

    requester, approver = user_aliases()
    actions = (
        select(func.count())
        .select_from(AuditLog)
        .where(
            AuditLog.organization_id == org_id,
            AuditLog.metadata_["break_glass_id"].astext == cast(BreakGlassActivation.id, String),
        )
        .scalar_subquery()
    )
    stmt = (
        select(
            BreakGlassActivation.id,
            BreakGlassActivation.user_id,
            requester.name,
            Role.name,
            BreakGlassActivation.reason,
            BreakGlassActivation.minutes,
            BreakGlassActivation.status,
            BreakGlassActivation.created_at,
            approver.name,
            BreakGlassActivation.approved_at,
            BreakGlassActivation.expires_at,
            BreakGlassActivation.ended_at,
            BreakGlassActivation.review_notes,
            BreakGlassActivation.reviewed_at,
            actions,
        )
        .join(Role, Role.id == BreakGlassActivation.role_id)
        .join(requester, requester.id == BreakGlassActivation.user_id)
        .outerjoin(approver, approver.id == BreakGlassActivation.approved_by)
        .where(BreakGlassActivation.organization_id == org_id)
        .order_by(BreakGlassActivation.created_at.desc())
        .limit(limit)
    )
    if user_id is not None:
        stmt = stmt.where(BreakGlassActivation.user_id == user_id)
    return [ActivationRow(*row) for row in (await session.execute(stmt)).all()]


def awaiting_count(org_id, approver_id):
    """Pending requests `approver_id` could decide (everyone's but their own), as a scalar subquery: the navigation
    badge, counted with the frame's other badges in one statement."""
    return (
        select(func.count())
        .where(
            BreakGlassActivation.organization_id == org_id,
            BreakGlassActivation.status == BreakGlassStatus.PENDING,
            BreakGlassActivation.user_id != approver_id,
        )
        .scalar_subquery()
    )
