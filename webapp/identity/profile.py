"""The signed-in user's own account: profile, email address, password, email preferences, deactivation."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core import audit
from webapp.core.errors import Conflict, ValidationError
from webapp.core.tenancy import RequestContext, scope_session
from webapp.identity import service
from webapp.identity.enums import TokenPurpose, UserStatus
from webapp.identity.models import User
from webapp.identity.passwords import hash_password_async
from webapp.identity.queries import find_user_by_email, get_user
from webapp.identity.tokens import consume_token, issue_token
from webapp.mail.service import queue_email
from webapp.security.enums import SecurityEventType, Severity
from webapp.security.service import record_event
from webapp.settings import queries as settings_queries
from webapp.settings import registry
from webapp.settings import service as settings_service
from webapp.settings.enums import SettingScope
from webapp.settings.registry import REGISTRY

# date formats and time zones are settings of the registry (profile.locale, profile.timezone)
LOCALES = registry.LOCALES
timezones = registry.timezones
DATE_SETTINGS = {"locale": "profile.locale", "timezone": "profile.timezone"}


# the optional kinds of email: settings `email.<category>` of the registry (webapp/settings/registry.py)
EMAIL_CATEGORIES = tuple(d for d in REGISTRY.values() if d.key.startswith("email."))
ALWAYS_SENT = "Security notices (locked account, password or email changed, deactivation) and the links you ask for."


def category(definition) -> str:
    """`approval_requests` for the setting `email.approval_requests`."""
    return definition.key.split(".", 1)[1]


async def email_preferences(session: AsyncSession, user_id) -> dict[str, bool]:
    """Every optional category with the person's choice, the platform's default, or the registry's."""
    values = await settings_queries.values_of(session, [d.key for d in EMAIL_CATEGORIES], user_id=user_id)
    return {key.split(".", 1)[1]: bool(value) for key, value in values.items()}


async def wants_email(session: AsyncSession, user_id, name: str) -> bool:
    """Whether the person receives `name` emails (their teammates' choices are readable inside an organization)."""
    return bool(await settings_queries.value_of(session, f"email.{name}", user_id=user_id))


async def date_settings(session: AsyncSession, user_id) -> dict[str, str]:
    """The person's date format and time zone: {"locale": ..., "timezone": ...}."""
    values = await settings_queries.values_of(session, list(DATE_SETTINGS.values()), user_id=user_id)
    return {name: values[key] for name, key in DATE_SETTINGS.items()}


async def _profile_snapshot(session: AsyncSession, user: User) -> dict:
    return {"name": user.name, **await date_settings(session, user.id), "version": user.version}


async def update_profile(
    session: AsyncSession,
    ctx: RequestContext,
    user: User,
    *,
    name: str | None = None,
    locale: str | None = None,
    timezone: str | None = None,
    version: int | None = None,
) -> User:
    """Change name, date format or time zone; a stale `version` is a 409 carrying the current profile. Format and
    zone are the person's settings `profile.locale` and `profile.timezone` (stored and audited by the registry);
    changing them here moves the profile's version too, so `version` guards all three."""
    before = await _profile_snapshot(session, user)
    if version is not None and version != user.version:
        raise Conflict("Your profile was changed elsewhere first.", {"current": before})
    errors: dict[str, list[str]] = {}
    if name is not None and not (1 <= len(name.strip()) <= 120):
        errors["name"] = ["Enter your name (at most 120 characters)."]
    if locale is not None and locale not in LOCALES:
        errors["locale"] = [f"Choose one of: {', '.join(LOCALES)}."]
    if timezone is not None and timezone not in timezones():
        errors["timezone"] = ["Choose a time zone from the list, like Europe/Berlin or UTC."]
    if errors:
        raise ValidationError(details={"fields": errors})
    for field_name, value in (("locale", locale), ("timezone", timezone)):
        if value is not None:
            await settings_service.set_setting(session, ctx, DATE_SETTINGS[field_name], value, scope=SettingScope.USER)
    if name is not None:
        user.name = name.strip()
    after = await _profile_snapshot(session, user)
    if after != before:
        if after["name"] == before["name"]:  # only a setting changed: touch the row so the version moves too
            user.updated_at = func.now()
        await session.flush()
        await audit.record(
            session,
            ctx,
            "user.profile_update",
            entity_type="user",
            entity_id=user.id,
            before={k: v for k, v in before.items() if k != "version"},
            after={k: v for k, v in after.items() if k != "version"},
            organization_id=None,
        )
    return user


async def set_email_preferences(
    session: AsyncSession, ctx: RequestContext, changes: dict[str, bool]
) -> dict[str, bool]:
    """Turn optional email categories on or off (each change a setting of the registry, audited); unknown
    categories are a 422."""
    known = {category(d) for d in EMAIL_CATEGORIES}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise ValidationError.field("preferences", f"Unknown email categories: {', '.join(unknown)}.")
    for name, value in changes.items():
        await settings_service.set_setting(session, ctx, f"email.{name}", bool(value), scope=SettingScope.USER)
    return await email_preferences(session, ctx.user_id)


async def change_password(
    session: AsyncSession,
    ctx: RequestContext,
    user: User,
    *,
    current_password: str,
    new_password: str,
    end_other_sessions: bool,
) -> int:
    """Re-authenticate, set the new password, optionally end every other session; how many ended."""
    await service.check_current_password(user, current_password, field="current_password")
    if current_password == new_password:
        raise ValidationError.field("password", "Choose a password different from the current one.")
    service.validate_password(new_password, email=user.email)
    user.password_hash = await hash_password_async(new_password)
    ended = 0
    if end_other_sessions:
        ended = await service.revoke_user_sessions(
            session, ctx, user.id, reason="password_changed", keep=ctx.session_id
        )
    await audit.record(
        session,
        ctx,
        "user.password_change",
        entity_type="user",
        entity_id=user.id,
        metadata={"other_sessions_ended": ended},
        organization_id=None,
    )
    await record_event(
        session,
        ctx,
        SecurityEventType.PASSWORD_CHANGED,
        user_id=user.id,
        organization_id=None,
        metadata={"other_sessions_ended": ended},
    )
    await queue_email(
        session,
        to=user.email,
        template="password_changed",
        user_id=user.id,
        name=user.name,
        sessions_ended=end_other_sessions,
        kept_current=True,
    )
    return ended


async def request_email_change(
    session: AsyncSession,
    ctx: RequestContext,
    user: User,
    *,
    new_email: str,
    current_password: str,
    base_url: str,
    end_other_sessions: bool,
) -> int:
    """Re-authenticate and email a confirmation link to the new address (the old one is told).

    Other sessions may end."""
    await service.check_current_password(user, current_password, field="current_password")
    new_email = service.normalize_email(new_email, field="email")
    if new_email.lower() == user.email.lower():
        raise ValidationError.field("email", "That is already your address.")
    if await find_user_by_email(session, new_email) is not None:
        raise Conflict(
            "Another account uses that address.", {"fields": {"email": ["Another account uses that address."]}}
        )
    raw = await issue_token(session, user.id, TokenPurpose.CHANGE_EMAIL, new_email)
    await queue_email(
        session,
        to=new_email,
        template="change_email",
        user_id=user.id,
        name=user.name,
        new_email=new_email,
        link=f"{base_url}/me/email/confirm?token={raw}",
    )
    await queue_email(
        session, to=user.email, template="email_change_requested", user_id=user.id, name=user.name, new_email=new_email
    )
    ended = 0
    if end_other_sessions:
        ended = await service.revoke_user_sessions(session, ctx, user.id, reason="email_change", keep=ctx.session_id)
    await audit.record(
        session,
        ctx,
        "user.email_change_requested",
        entity_type="user",
        entity_id=user.id,
        after={"new_email": new_email},
        metadata={"other_sessions_ended": ended},
        organization_id=None,
    )
    await record_event(
        session,
        ctx,
        SecurityEventType.EMAIL_CHANGE_REQUESTED,
        user_id=user.id,
        organization_id=None,
        severity=Severity.WARNING,
        metadata={"new_email": new_email},
    )
    return ended


async def pending_email_change(session: AsyncSession, user_id) -> str | None:
    """The address a live change-of-email link was sent to, if any."""
    from sqlalchemy import func, select

    from webapp.identity.models import EmailToken

    stmt = (
        select(EmailToken.email)
        .where(
            EmailToken.user_id == user_id,
            EmailToken.purpose == TokenPurpose.CHANGE_EMAIL,
            EmailToken.used_at.is_(None),
            EmailToken.expires_at > func.now(),
        )
        .order_by(EmailToken.created_at.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def confirm_email_change(session: AsyncSession, ctx: RequestContext, raw: str) -> User:
    """Follow the link sent to the new address: it becomes the sign-in address, verified."""
    token = await consume_token(session, raw, TokenPurpose.CHANGE_EMAIL)
    user = await get_user(session, token.user_id)
    other = await find_user_by_email(session, token.email)
    if other is not None and other.id != user.id:
        raise Conflict("Another account took that address in the meantime. Choose another one.")
    old = user.email
    user.email, user.email_verified_at = token.email, datetime.now(UTC)
    await session.flush()
    await audit.record(
        session,
        ctx,
        "user.email_change",
        entity_type="user",
        entity_id=user.id,
        before={"email": old},
        after={"email": user.email},
        organization_id=None,
    )
    await record_event(
        session,
        ctx,
        SecurityEventType.EMAIL_CHANGED,
        user_id=user.id,
        organization_id=None,
        severity=Severity.WARNING,
        metadata={"old": old, "new": user.email},
    )
    return user


async def deactivate_account(
    session: AsyncSession,
    ctx: RequestContext,
    user: User,
    *,
    current_password: str,
    reason: str | None = None,
):
    """Re-authenticate, then stop the account and hand its deletion request to the privacy workers (stop_account).

    Refused while the user is the only owner of an organization: it would be left without anyone in charge.
    """
    from webapp.privacy import requests as privacy_requests
    from webapp.privacy.enums import SubjectRequestType

    await service.check_current_password(user, current_password, field="current_password")
    await refuse_sole_owner(session, user)
    request = await privacy_requests.open_request(session, user.id, SubjectRequestType.DELETION)
    if request is None:
        request = await privacy_requests.submit(
            session, ctx, user_id=user.id, email=user.email, request_type=SubjectRequestType.DELETION, reason=reason,
            reauthenticated=False, send_confirmation=False,
        )  # fmt: skip
    await stop_account(session, ctx, user, request, method="password")
    return request


async def refuse_sole_owner(session: AsyncSession, user: User) -> None:
    """409 naming the organizations the user alone owns (leaving them would orphan them)."""
    from webapp.organizations.queries import sole_owner_orgs

    orphaned = await sole_owner_orgs(session, user.id)
    if orphaned:
        names = ", ".join(m.name for m in orphaned)
        raise Conflict(
            f"You are the only owner of {names}. Make someone else owner, or delete the organization, first.",
            {"organizations": [{"id": str(m.org_id), "slug": m.slug, "name": m.name} for m in orphaned]},
        )


async def stop_account(session: AsyncSession, ctx: RequestContext, user: User, request, *, method: str = "email_link"):
    """The account stops at once — sessions end, API keys are deleted — and its verified deletion request goes to
    the privacy workers, who erase it (webapp.privacy.erasure). Refused (409) for an organization's only owner."""
    from webapp.apikeys import service as apikeys
    from webapp.organizations.queries import list_memberships
    from webapp.privacy import requests as privacy_requests

    await refuse_sole_owner(session, user)
    keys = 0
    for membership in await list_memberships(session, user.id):  # API keys are only visible inside their organization
        await scope_session(session, org_id=membership.org_id, user_id=user.id)
        keys += await apikeys.delete_user_keys(session, user.id)
    await scope_session(session, user_id=user.id)
    user.status, user.deactivated_at = UserStatus.DEACTIVATED, datetime.now(UTC)
    await session.flush()
    ended = await service.revoke_user_sessions(session, ctx, user.id, reason="account_deactivated")
    await privacy_requests.verify(session, request, method=method, actor_id=user.id)
    await audit.record(
        session,
        ctx,
        "user.deactivate",
        entity_type="user",
        entity_id=user.id,
        metadata={"sessions_ended": ended, "api_keys_deleted": keys, "deletion_request": request.id},
        organization_id=None,
    )
    await record_event(
        session,
        ctx,
        SecurityEventType.ACCOUNT_DEACTIVATED,
        user_id=user.id,
        organization_id=None,
        severity=Severity.WARNING,
    )
    await queue_email(
        session,
        to=user.email,
        template="account_deactivated",
        user_id=user.id,
        name=user.name,
        due=request.due_at.strftime("%d %B %Y"),
    )
    return request
