"""Impersonation: staff act as a user inside a support-access window the user's organization granted, under an
approved staff break-glass grant, with a reason and a ticket. It is a browser session of the user that names the
staff member (every audit row carries both), lasts at most one hour (less if the window or the grant ends first),
is never extended, refuses account-changing actions, and ends the user's way: the user is emailed afterwards."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from quart import request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core import audit
from webapp.core.errors import Conflict, Forbidden, NotFound, ValidationError
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext
from webapp.identity.enums import UserStatus
from webapp.identity.models import AuthSession, User
from webapp.identity.queries import token_digest
from webapp.organizations.models import Membership, Organization
from webapp.security.enums import SecurityEventType, Severity
from webapp.security.service import record_event
from webapp.support import grants, staff_breakglass
from webapp.support.models import ImpersonationSession, SupportAccessGrant

LONGEST = timedelta(hours=1)
# what an impersonated session may never do: credentials, two-factor, email, API keys, billing, privacy requests,
# deleting the organization (writes only; reading those pages is fine)
FORBIDDEN_BLUEPRINTS = {"mfa", "apikeys", "apikeys_api", "billing", "billing_api", "org_billing_api",
                        "privacy_requests"}  # fmt: skip
FORBIDDEN_ENDPOINTS = {
    "profile.change_email", "profile.confirm_email_submit", "profile.change_password", "profile.deactivate",
    "identity_api.change_password", "identity_api.delete_me", "identity.revoke_session",
    "identity.revoke_other_sessions", "identity_api.end_session", "organizations.delete_org",
    "organizations_api.delete_organization", "privacy_api.request_access", "privacy_api.request_deletion",
    "support.impersonate", "support_api.impersonate",
}  # fmt: skip


def _now() -> datetime:
    return datetime.now(UTC)


def refuse_forbidden_action(ctx: RequestContext) -> None:
    """Called for every request of an impersonated session: account-changing writes are a 403."""
    if ctx.impersonator_id is None or request.method in ("GET", "HEAD", "OPTIONS"):
        return
    endpoint = request.endpoint or ""
    if endpoint in FORBIDDEN_ENDPOINTS or endpoint.split(".")[0] in FORBIDDEN_BLUEPRINTS:
        raise Forbidden(
            "Support cannot do this while acting as someone: passwords, two-factor, email addresses, API keys, "
            "billing, privacy requests and deleting the organization stay with the account's owner.",
            {"impersonating": True},
        )


async def _target(session: AsyncSession, user_id: uuid.UUID, org_id: uuid.UUID | None):
    user = (
        await session.execute(select(User).where(User.id == user_id, User.deleted_at.is_(None)))
    ).scalar_one_or_none()
    if user is None or user.status != UserStatus.ACTIVE:
        raise NotFound("No such active user.")
    if user.is_platform_admin:
        raise Forbidden("Staff accounts cannot be impersonated.")
    stmt = (
        select(Membership.organization_id, SupportAccessGrant)
        .join(SupportAccessGrant, SupportAccessGrant.organization_id == Membership.organization_id)
        .where(
            Membership.user_id == user_id,
            Membership.deleted_at.is_(None),
            SupportAccessGrant.revoked_at.is_(None),
            SupportAccessGrant.expires_at > _now(),
        )
    )
    if org_id is not None:
        stmt = stmt.where(Membership.organization_id == org_id)
    windows = (await session.execute(stmt)).all()
    if not windows:
        raise Forbidden(
            "This person's organization has not granted support access (or it ended): ask an admin there to "
            "grant it on the organization's security page.",
            {"support_access": False},
        )
    if len({w.organization_id for w in windows}) > 1:
        raise ValidationError.field("organization_id", "This person is in several organizations that granted "
                                    "support access: name one.")  # fmt: skip
    return user, windows[0][1]


async def start(
    session: AsyncSession,
    ctx: RequestContext,
    user_id: uuid.UUID,
    *,
    reason: str,
    ticket: str,
    organization_id: uuid.UUID | None = None,
) -> tuple[str, ImpersonationSession]:
    """Open an impersonation (the caller has checked staff and opened the bypass); returns the new browser
    session's raw token and the record. 403 without break-glass or without an open window."""
    if ctx.impersonator_id is not None:
        raise Conflict("You are already acting as someone; exit first.")
    reason, ticket = (reason or "").strip(), (ticket or "").strip()
    if not 10 <= len(reason) <= 1000:
        raise ValidationError.field("reason", "Say why in 10–1000 characters.")
    if not 2 <= len(ticket) <= 100:
        raise ValidationError.field("ticket", "Name the support ticket (2–100 characters).")
    emergency = await staff_breakglass.active(session, ctx.user_id)
    if emergency is None:
        raise Forbidden("Impersonation needs an active staff break-glass grant, approved by a second staff member.",
                        {"break_glass": False})  # fmt: skip
    if user_id == ctx.user_id:
        raise ValidationError.field("user_id", "You cannot impersonate yourself.")
    user, window = await _target(session, user_id, organization_id)
    now = _now()
    expires = min(now + LONGEST, window.expires_at, emergency.expires_at)
    record = ImpersonationSession(
        id=new_id(), organization_id=window.organization_id, staff_user_id=ctx.user_id,
        staff_name=(ctx.user_name or ctx.user_email or "Staff")[:200], user_id=user.id, grant_id=window.id,
        break_glass_id=emergency.id, reason=reason, ticket=ticket, ip=ctx.ip, started_at=now, expires_at=expires,
    )  # fmt: skip
    session.add(record)
    await session.flush()
    token = secrets.token_urlsafe(32)
    session.add(
        AuthSession(
            id=new_id(), user_id=user.id, token_hash=token_digest(token), expires_at=expires, ip=ctx.ip,
            user_agent=ctx.user_agent, impersonator_id=ctx.user_id, impersonation_id=record.id,
        )
    )  # fmt: skip
    await session.flush()
    await audit.record(
        session, ctx, "impersonation.start", entity_type="user", entity_id=user.id,
        after={"impersonation_id": record.id, "reason": reason, "ticket": ticket, "expires_at": expires},
        organization_id=window.organization_id,
    )  # fmt: skip
    await record_event(
        session, ctx, SecurityEventType.IMPERSONATION_STARTED, severity=Severity.CRITICAL, user_id=user.id,
        organization_id=window.organization_id,
        metadata={"impersonation_id": record.id, "staff_user_id": ctx.user_id, "ticket": ticket},
    )  # fmt: skip
    return token, record


async def exit_(session: AsyncSession, ctx: RequestContext) -> ImpersonationSession:
    """End the impersonation this session is (409 when it is none), and email the user."""
    if ctx.impersonator_id is None or ctx.impersonation_id is None:
        raise Conflict("You are not acting as anyone.")
    await grants.end_impersonations(session, ImpersonationSession.id == ctx.impersonation_id, reason="exit")
    record = await session.get(ImpersonationSession, ctx.impersonation_id, populate_existing=True)
    await audit.record(session, ctx, "impersonation.end", entity_type="user", entity_id=ctx.user_id,
                       after={"impersonation_id": record.id, "reason": "exit"})  # fmt: skip
    await record_event(session, ctx, SecurityEventType.IMPERSONATION_ENDED, severity=Severity.WARNING,
                       metadata={"impersonation_id": record.id, "end_reason": "exit"})  # fmt: skip
    await notify_users(session)
    return record


async def notify_users(session: AsyncSession) -> int:
    """End impersonations past their time, and email every user whose impersonation ended and was not told yet
    (the caller has opened the bypass)."""
    from webapp.mail.service import queue_email

    await grants.end_impersonations(session, ImpersonationSession.expires_at <= _now(), reason="expired")
    rows = (
        await session.execute(
            select(ImpersonationSession, User, Organization.name)
            .join(User, User.id == ImpersonationSession.user_id)
            .join(Organization, Organization.id == ImpersonationSession.organization_id)
            .where(ImpersonationSession.ended_at.is_not(None), ImpersonationSession.user_notified_at.is_(None))
            .with_for_update(of=ImpersonationSession, skip_locked=True)
        )
    ).all()
    for record, user, org_name in rows:
        await queue_email(
            session, to=user.email, template="impersonation_ended", user_id=user.id, name=user.name,
            staff_name=record.staff_name, org_name=org_name, reason=record.reason, ticket=record.ticket,
            started_at=f"{record.started_at:%Y-%m-%d %H:%M}", ended_at=f"{record.ended_at:%Y-%m-%d %H:%M}",
        )  # fmt: skip
        record.user_notified_at = _now()
    return len(rows)


async def banner(session: AsyncSession, impersonation_id: uuid.UUID) -> ImpersonationSession | None:
    """The record behind the banner an impersonated session shows."""
    return await session.get(ImpersonationSession, impersonation_id)
