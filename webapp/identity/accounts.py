"""Account life cycle by email: sign-up, verification, password reset, unlock after a lock-out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core import audit
from webapp.core.errors import Conflict, ValidationError
from webapp.core.tenancy import RequestContext
from webapp.identity import service
from webapp.identity.enums import TokenPurpose, UserStatus
from webapp.identity.models import User
from webapp.identity.passwords import hash_password_async
from webapp.identity.queries import find_user_by_email, get_user
from webapp.identity.tokens import consume_token, issue_token
from webapp.mail.service import queue_email
from webapp.organizations import service as organizations
from webapp.privacy import consents
from webapp.privacy.enums import ConsentDecision, ConsentMethod, PolicyDocument
from webapp.security.enums import SecurityEventType, Severity
from webapp.security.service import record_event


@dataclass(frozen=True)
class SignUp:
    """What sign-up created."""

    user: User
    org_id: uuid.UUID
    org_slug: str


async def sign_up(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    name: str,
    email: str,
    password: str,
    org_name: str,
    org_slug: str,
    base_url: str,
    product_news: bool = False,
) -> SignUp:
    """A new user owning a new organization, who accepted the documents that need consent (and, if they chose,
    product news) — each decision recorded with its proof; a verification email goes out after commit."""
    email = email.strip()
    if await find_user_by_email(session, email) is not None:
        raise Conflict(
            "An account with this email already exists. Sign in, or reset your password.",
            {"fields": {"email": ["An account with this email already exists."]}},
        )
    organizations.validate_slug(org_slug)
    user = await service.create_user(session, ctx, email=email, name=name, password=password)
    try:
        org = await organizations.create_organization_for(session, ctx, slug=org_slug, name=org_name, owner_id=user.id)
    except Conflict as exc:  # the sign-up form calls the address field org_slug
        raise Conflict(exc.message, {"fields": {"org_slug": exc.details["fields"]["slug"]}}) from exc
    await consents.accept_due(session, ctx, user.id, ConsentMethod.SIGNUP)
    if product_news:
        news = await consents.get_version(session, PolicyDocument.MARKETING_EMAIL)
        await consents.decide(session, ctx, user.id, news, ConsentDecision.GRANTED, ConsentMethod.SIGNUP)
    await send_verification(session, ctx, user, base_url=base_url)
    return SignUp(user, org.id, org.slug)


async def send_verification(session: AsyncSession, ctx: RequestContext | None, user: User, *, base_url: str) -> None:
    """Email a link that proves the user owns their address."""
    raw = await issue_token(session, user.id, TokenPurpose.VERIFY_EMAIL, user.email)
    await queue_email(
        session,
        to=user.email,
        template="verify_email",
        user_id=user.id,
        name=user.name,
        link=f"{base_url}/verify-email?token={raw}",
    )


async def verify_email(session: AsyncSession, ctx: RequestContext, raw: str) -> User:
    """Mark the address verified (only if it is still the user's address)."""
    token = await consume_token(session, raw, TokenPurpose.VERIFY_EMAIL)
    user = await get_user(session, token.user_id)
    if user.email.lower() != token.email.lower():
        raise ValidationError("This link was sent to an address you no longer use.")
    if user.email_verified_at is None:
        user.email_verified_at = datetime.now(UTC)
        await audit.record(
            session,
            ctx,
            "user.email_verified",
            entity_type="user",
            entity_id=user.id,
            after={"email": user.email},
            organization_id=None,
        )
        await record_event(session, ctx, SecurityEventType.EMAIL_VERIFIED, user_id=user.id, organization_id=None)
    return user


async def request_password_reset(session: AsyncSession, ctx: RequestContext, email: str, *, base_url: str) -> None:
    """Email a reset link when the account exists and is active; the caller answers the same either way."""
    user = await find_user_by_email(session, email)
    await record_event(
        session,
        ctx,
        SecurityEventType.PASSWORD_RESET_REQUESTED,
        organization_id=None,
        user_id=user.id if user else None,
        metadata={"known": user is not None},
    )
    if user is None or user.status != UserStatus.ACTIVE:
        return
    raw = await issue_token(session, user.id, TokenPurpose.RESET_PASSWORD, user.email)
    await queue_email(
        session,
        to=user.email,
        template="reset_password",
        user_id=user.id,
        name=user.name,
        link=f"{base_url}/reset-password?token={raw}",
        minutes=30,
    )


async def reset_password(session: AsyncSession, ctx: RequestContext, raw: str, new_password: str) -> User:
    """Set a new password from a reset link and end every session; it never signs in (MFA still applies)."""
    token = await consume_token(session, raw, TokenPurpose.RESET_PASSWORD)
    user = await get_user(session, token.user_id)
    service.validate_password(new_password, email=user.email)
    user.password_hash = await hash_password_async(new_password)
    if user.email_verified_at is None and user.email.lower() == token.email.lower():
        user.email_verified_at = datetime.now(UTC)  # the link proved the address
    await service.revoke_user_sessions(session, ctx, user.id, reason="password_reset")
    await audit.record(session, ctx, "user.password_reset", entity_type="user", entity_id=user.id, organization_id=None)
    await record_event(
        session, ctx, SecurityEventType.PASSWORD_RESET, user_id=user.id, organization_id=None, severity=Severity.WARNING
    )
    await queue_email(session, to=user.email, template="password_changed", user_id=user.id, name=user.name)
    return user


async def notify_lock(session: AsyncSession, ctx: RequestContext, email: str, *, base_url: str, minutes: int) -> None:
    """The account just locked: record it and email the owner an unlock link."""
    user = await find_user_by_email(session, email)
    await record_event(
        session,
        ctx,
        SecurityEventType.ACCOUNT_LOCKED,
        user_id=user.id if user else None,
        severity=Severity.CRITICAL,
        organization_id=None,
        metadata={"minutes": minutes},
    )
    if user is None:
        return
    raw = await issue_token(session, user.id, TokenPurpose.UNLOCK_ACCOUNT, user.email)
    await queue_email(
        session,
        to=user.email,
        template="unlock_account",
        user_id=user.id,
        name=user.name,
        link=f"{base_url}/unlock?token={raw}",
        minutes=minutes,
        reset_link=f"{base_url}/forgot-password",
    )


async def unlock_account(session: AsyncSession, ctx: RequestContext, raw: str) -> User:
    """Consume an unlock link; the caller lifts the Redis lock after commit."""
    token = await consume_token(session, raw, TokenPurpose.UNLOCK_ACCOUNT)
    user = await get_user(session, token.user_id)
    await record_event(session, ctx, SecurityEventType.ACCOUNT_UNLOCKED, user_id=user.id, organization_id=None)
    return user
