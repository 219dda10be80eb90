"""Invitations: emailed single-use links (stored as SHA-256) that expire, can be resent or revoked, and are
accepted by the invited address only — by a signed-in user or by creating an account on the spot."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.billing import entitlements
from webapp.billing.entitlements import Gate
from webapp.core import audit
from webapp.core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    ValidationError,
)
from webapp.core.ids import new_id
from webapp.core.permissions import SystemRole
from webapp.core.tenancy import (
    RequestContext,
    remember_scope,
    reveal_by_credential,
    scope_session,
    set_scope_column,
)
from webapp.iam import queries as iam_queries
from webapp.iam import service as iam
from webapp.iam.catalog import role_permissions
from webapp.identity import service as identity
from webapp.identity.enums import UserStatus
from webapp.identity.models import User
from webapp.identity.queries import find_user_by_email, token_digest
from webapp.mail.service import queue_email
from webapp.organizations.models import Invitation, Membership, Organization
from webapp.organizations.service.orgs import add_member
from webapp.privacy import consents
from webapp.privacy.enums import ConsentMethod

INVITATION_LIFETIME = timedelta(days=7)
MAX_SENDS = 5


def _new_token() -> tuple[str, bytes]:
    raw = secrets.token_urlsafe(32)
    return raw, token_digest(raw)


def _now() -> datetime:
    return datetime.now(UTC)


async def _send(
    session: AsyncSession, ctx: RequestContext, invitation: Invitation, raw: str, base_url: str, role_name: str
) -> None:
    await queue_email(
        session,
        to=invitation.email,
        template="invitation",
        inviter=ctx.user_name or "A member",
        org_name=ctx.org_name,
        role_name=role_name,
        expires_at=invitation.expires_at.strftime("%d %b %Y"),
        link=f"{base_url}/invitations/accept?token={raw}",
    )


async def invite_member(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    email: str,
    role_id: uuid.UUID,
    base_url: str,
) -> Invitation:
    """Invite an address to the current organization with a main role; the email goes out after commit."""
    email = identity.normalize_email(email)
    role = await iam_queries.get_role(session, ctx.org_id, role_id)
    if role.break_glass:
        raise ValidationError(details={"fields": {"role_id": ["A break-glass role cannot be a main role."]}})
    if role.key == SystemRole.OWNER and not iam.can_manage_owners(ctx):
        raise Forbidden("Only an owner can invite another owner.")
    iam.ensure_can_grant(ctx, role_permissions(role.key, role.is_system, role.permissions))
    member = await session.execute(
        select(Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.organization_id == ctx.org_id,
            Membership.deleted_at.is_(None),
            func.lower(User.email) == email.lower(),
        )
    )
    if member.first() is not None:
        raise Conflict("This person is already a member.", {"fields": {"email": ["Already a member."]}})
    pending = (
        await session.execute(
            select(Invitation.id).where(
                Invitation.organization_id == ctx.org_id,
                func.lower(Invitation.email) == email.lower(),
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
            )
        )
    ).scalar_one_or_none()
    if pending is not None:
        raise Conflict(
            "This address already has an invitation. Resend it or revoke it first.",
            {"fields": {"email": ["Already invited."]}, "invitation_id": str(pending)},
        )
    await entitlements.require(session, ctx.org_id, Gate.INVITE, org_slug=ctx.org_slug)
    raw, digest = _new_token()
    invitation = Invitation(
        id=new_id(),
        organization_id=ctx.org_id,
        email=email,
        role_id=role.id,
        token_hash=digest,
        invited_by=ctx.user_id,
        expires_at=_now() + INVITATION_LIFETIME,
    )
    session.add(invitation)
    await session.flush()
    await _send(session, ctx, invitation, raw, base_url, role.name)
    await audit.record(
        session,
        ctx,
        "invitation.create",
        entity_type="invitation",
        entity_id=invitation.id,
        after={"email": email, "role": role.key, "expires_at": invitation.expires_at},
    )
    return invitation


async def _pending(session: AsyncSession, ctx: RequestContext, invitation_id: uuid.UUID) -> Invitation:
    stmt = select(Invitation).where(Invitation.id == invitation_id, Invitation.organization_id == ctx.org_id)
    invitation = (await session.execute(stmt.with_for_update())).scalar_one_or_none()
    if invitation is None:
        raise NotFound("No such invitation.")
    if invitation.accepted_at or invitation.revoked_at:
        raise Conflict("This invitation was already accepted or revoked.")
    return invitation


async def resend_invitation(
    session: AsyncSession, ctx: RequestContext, invitation_id: uuid.UUID, *, base_url: str
) -> Invitation:
    """A fresh link (the old one stops working) and a fresh expiry; at most MAX_SENDS emails per invitation."""
    invitation = await _pending(session, ctx, invitation_id)
    if invitation.send_count >= MAX_SENDS:
        raise Conflict(f"This invitation was sent {MAX_SENDS} times already. Revoke it and invite again.")
    role = await iam_queries.get_role(session, ctx.org_id, invitation.role_id)
    raw, invitation.token_hash = _new_token()
    invitation.expires_at = _now() + INVITATION_LIFETIME
    invitation.send_count += 1
    await session.flush()
    await _send(session, ctx, invitation, raw, base_url, role.name)
    await audit.record(
        session,
        ctx,
        "invitation.resend",
        entity_type="invitation",
        entity_id=invitation.id,
        after={"email": invitation.email, "send_count": invitation.send_count},
    )
    return invitation


async def revoke_invitation(session: AsyncSession, ctx: RequestContext, invitation_id: uuid.UUID) -> Invitation:
    """The link stops working at once."""
    invitation = await _pending(session, ctx, invitation_id)
    invitation.revoked_at = _now()
    await session.flush()
    await audit.record(
        session,
        ctx,
        "invitation.revoke",
        entity_type="invitation",
        entity_id=invitation.id,
        before={"email": invitation.email},
    )
    _sync_seats(session, ctx.org_id)  # the seat it held is released
    return invitation


def _sync_seats(session: AsyncSession, org_id: uuid.UUID) -> None:
    from webapp.billing.tasks import sync_seats_after_commit  # the worker's broker, only when a request needs it

    sync_seats_after_commit(session, org_id)


@dataclass(frozen=True)
class InvitationView:
    """What the acceptance page shows about an invitation."""

    id: uuid.UUID
    org_id: uuid.UUID
    org_slug: str
    org_name: str
    email: str
    role_id: uuid.UUID
    role_name: str
    inviter_name: str | None
    expires_at: datetime


_BY_TOKEN = select(
    set_scope_column("org_id", Invitation.organization_id),
    Invitation,
).where(Invitation.token_hash == bindparam("digest"))


async def open_invitation(session: AsyncSession, raw: str, *, lock: bool = False) -> tuple[Invitation, InvitationView]:
    """The pending invitation behind a link, scoped to its organization; clear errors for used or old links."""
    digest = token_digest(raw or "")
    await reveal_by_credential(session, digest)  # stays for the request: it only shows the row this link names
    stmt = _BY_TOKEN.with_for_update(of=Invitation) if lock else _BY_TOKEN
    row = (await session.execute(stmt, {"digest": digest})).one_or_none()
    if row is None:
        raise NotFound("This invitation link is not valid. Ask for a new invitation.")
    invitation = row[1]
    remember_scope(session, org_id=invitation.organization_id, user_id=session.info.get("user_id"))  # set by the lookup
    if invitation.accepted_at:
        raise Conflict("This invitation has already been used. Sign in to reach the organization.")
    if invitation.revoked_at:
        raise BadRequest("This invitation was revoked. Ask the organization for a new one.")
    if invitation.expires_at <= _now():
        raise BadRequest("This invitation has expired. Ask the organization to resend it.")
    org = (
        await session.execute(
            select(Organization).where(Organization.id == invitation.organization_id, Organization.deleted_at.is_(None))
        )
    ).scalar_one_or_none()
    if org is None:
        raise NotFound("This organization no longer exists.")
    role = await iam_queries.get_role(session, org.id, invitation.role_id)
    inviter = await session.get(User, invitation.invited_by) if invitation.invited_by else None
    return invitation, InvitationView(
        invitation.id,
        org.id,
        org.slug,
        org.name,
        invitation.email,
        role.id,
        role.name,
        inviter.name if inviter else None,
        invitation.expires_at,
    )


async def accept_invitation(
    session: AsyncSession,
    ctx: RequestContext,
    raw: str,
    *,
    user: User | None = None,
    name: str | None = None,
    password: str | None = None,
) -> tuple[User, InvitationView]:
    """Join as the signed-in `user` (same address only) or as a new account made from `name` and `password`."""
    invitation, view = await open_invitation(session, raw, lock=True)
    if user is None:
        if await find_user_by_email(session, invitation.email) is not None:
            raise Conflict("An account with this email exists. Sign in to accept the invitation.")
        if not (name or "").strip():
            raise ValidationError(details={"fields": {"name": ["Your name is required."]}})
        # following the emailed link proves the address, so the account starts verified
        user = await identity.create_user(
            session, ctx, email=invitation.email, name=name, password=password or "", verified=True
        )
        await scope_session(session, user_id=user.id)
        await consents.accept_due(session, ctx, user.id, ConsentMethod.SIGNUP)  # the form's "I accept"
    elif user.email.lower() != invitation.email.lower():
        raise Forbidden(f"This invitation is for {invitation.email}. Sign in with that account to accept it.")
    await scope_session(session, org_id=invitation.organization_id, user_id=user.id)
    existing = (
        await session.execute(
            select(Membership.id).where(
                Membership.organization_id == invitation.organization_id,
                Membership.user_id == user.id,
                Membership.deleted_at.is_(None),
            )
        )
    ).first()
    if existing is not None:
        raise Conflict("You are already a member of this organization.")
    acting = RequestContext(
        user_id=user.id,
        user_email=user.email,
        user_name=user.name,
        org_id=invitation.organization_id,
        request_id=ctx.request_id,
        ip=ctx.ip,
        user_agent=ctx.user_agent,
    )
    # the seat is claimed under the subscription's row lock: concurrent accepts queue up and never pass the seats
    await entitlements.require(session, invitation.organization_id, Gate.JOIN, org_slug=view.org_slug)
    await add_member(session, acting, org_id=invitation.organization_id, user_id=user.id, role=invitation.role_id)
    invitation.accepted_at, invitation.accepted_by = _now(), user.id
    await session.flush()
    from webapp.integrations import outbox

    await outbox.emit(session, invitation.organization_id, "member.added",
                      {"user_id": user.id, "role_id": invitation.role_id, "invitation_id": invitation.id})  # fmt: skip
    await audit.record(
        session,
        acting,
        "invitation.accept",
        entity_type="invitation",
        entity_id=invitation.id,
        after={"email": invitation.email, "user_id": user.id},
    )
    await _tell_inviter(session, invitation, user, view)
    _sync_seats(session, invitation.organization_id)  # the provider's quantity follows the members
    return user, view


async def _tell_inviter(session: AsyncSession, invitation: Invitation, user: User, view: InvitationView) -> None:
    """The inviter hears that their invitation was accepted, unless they turned that email off."""
    from webapp.identity.profile import wants_email

    inviter = await session.get(User, invitation.invited_by) if invitation.invited_by else None
    if inviter is None or inviter.status != UserStatus.ACTIVE or inviter.id == user.id:
        return
    if await wants_email(session, inviter.id, "invitation_accepted"):
        await queue_email(
            session,
            to=inviter.email,
            template="invitation_accepted",
            user_id=inviter.id,
            name=inviter.name,
            member=user.name,
            member_email=user.email,
            org_name=view.org_name,
            role_name=view.role_name,
        )
