"""API key writes and authentication: `cl_live_` + 256 random bits, only SHA-256 stored, scoped to a subset of
the owner's permissions (and re-checked against them on every use), expiring, can be disabled."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.apikeys.models import ApiKey
from webapp.core import audit
from webapp.core.driver import Prepared, fetch_prepared
from webapp.core.errors import Conflict, Forbidden, NotFound, ValidationError
from webapp.core.ids import new_id
from webapp.core.permissions import Perm
from webapp.core.tenancy import (
    RequestContext,
    remember_scope,
    reveal_by_credential,
    set_scope_column,
)
from webapp.iam.catalog import unknown_permissions
from webapp.iam.service import ensure_can_grant
from webapp.identity.enums import UserStatus
from webapp.identity.models import User
from webapp.identity.queries import (
    token_digest,  # keys carry 256 random bits: a fast hash is enough
)
from webapp.organizations.queries import get_live_membership
from webapp.security.enums import SecurityEventType
from webapp.security.service import record_event

KEY_PREFIX = "cl_live_"
SHOWN_PREFIX_LENGTH = len(KEY_PREFIX) + 6
MAX_KEYS_PER_MEMBER = 25
MAX_LIFETIME = timedelta(days=366)
USE_RECORDED_EVERY = timedelta(minutes=1)
NAME_MAX = 80


def _now() -> datetime:
    return datetime.now(UTC)


def looks_like_key(token: str) -> bool:
    """Whether a bearer token is an API key rather than an access token."""
    return token.startswith(KEY_PREFIX)


def _clean(name: str, permissions, expires_at: datetime | None) -> tuple[str, list[str]]:
    name = (name or "").strip()
    if not name:
        raise ValidationError.field("name", "Give the key a name, e.g. the script that will use it.")
    if len(name) > NAME_MAX:
        raise ValidationError.field("name", f"At most {NAME_MAX} characters.")
    names = sorted({str(p) for p in permissions or ()})
    if not names:
        raise ValidationError.field("permissions", "Pick at least one permission for this key.")
    if unknown := unknown_permissions(names):
        raise ValidationError.field("permissions", f"Unknown permission: {', '.join(unknown)}.")
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise ValidationError.field("expires_at", "Give the time with its timezone, e.g. 2026-12-01T18:00:00Z.")
        if expires_at <= _now():
            raise ValidationError.field("expires_at", "Pick a time in the future.")
        if expires_at > _now() + MAX_LIFETIME:
            raise ValidationError.field("expires_at", "At most one year ahead.")
    return name, names


def _snapshot(key: ApiKey) -> dict:
    return {
        "name": key.name,
        "prefix": key.prefix,
        "permissions": key.permissions,
        "enabled": key.enabled,
        "expires_at": key.expires_at,
        "user_id": key.user_id,
    }


async def create_key(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    name: str,
    permissions,
    expires_at: datetime | None,
) -> tuple[ApiKey, str]:
    """A key for the acting member in the current organization; the raw key is returned once, never stored."""
    name, names = _clean(name, permissions, expires_at)
    ensure_can_grant(ctx, frozenset(names))
    membership = await get_live_membership(session, ctx.org_id, ctx.user_id)
    live = (
        await session.execute(
            select(ApiKey.id).where(ApiKey.membership_id == membership.id, ApiKey.deleted_at.is_(None))
        )
    ).all()
    if len(live) >= MAX_KEYS_PER_MEMBER:
        raise Conflict(f"You have {MAX_KEYS_PER_MEMBER} keys here already. Delete one you no longer use.")
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        id=new_id(),
        organization_id=ctx.org_id,
        membership_id=membership.id,
        user_id=ctx.user_id,
        name=name,
        prefix=raw[:SHOWN_PREFIX_LENGTH],
        key_hash=token_digest(raw),
        permissions=names,
        expires_at=expires_at,
    )
    session.add(key)
    await session.flush()
    await audit.record(session, ctx, "api_key.create", entity_type="api_key", entity_id=key.id, after=_snapshot(key))
    await record_event(
        session,
        ctx,
        SecurityEventType.API_KEY_CREATED,
        user_id=ctx.user_id,
        metadata={"api_key_id": key.id, "prefix": key.prefix},
    )
    return key, raw


async def _editable(session: AsyncSession, ctx: RequestContext, key_id: uuid.UUID) -> ApiKey:
    """A live key of this organization that the actor owns (or may administer); 404 for everything else."""
    stmt = select(ApiKey).where(ApiKey.id == key_id, ApiKey.organization_id == ctx.org_id, ApiKey.deleted_at.is_(None))
    key = (await session.execute(stmt.with_for_update())).scalar_one_or_none()
    if key is None or (key.user_id != ctx.user_id and not ctx.can(Perm.APIKEYS_ADMIN)):
        raise NotFound("No such API key.")
    return key


async def update_key(
    session: AsyncSession,
    ctx: RequestContext,
    key_id: uuid.UUID,
    *,
    version: int | None = None,
    name: str | None = None,
    enabled: bool | None = None,
    expires_at: datetime | None = ...,
) -> ApiKey:
    """Rename, enable/disable or change the expiry of a key (scopes are fixed: make a new key instead)."""
    key = await _editable(session, ctx, key_id)
    if version is not None and key.version != version:
        raise Conflict(details={"current": _snapshot(key) | {"version": key.version}})
    before = _snapshot(key)
    new_name, _ = _clean(
        name if name is not None else key.name, key.permissions, None if expires_at is ... else expires_at
    )
    key.name = new_name
    if enabled is not None:
        if enabled and key.user_id != ctx.user_id:
            raise Forbidden("Only the key's owner can enable it again.")
        key.enabled = bool(enabled)
    if expires_at is not ...:
        key.expires_at = expires_at
    await session.flush()
    await audit.record(
        session, ctx, "api_key.update", entity_type="api_key", entity_id=key.id, before=before, after=_snapshot(key)
    )
    return key


async def delete_key(session: AsyncSession, ctx: RequestContext, key_id: uuid.UUID) -> ApiKey:
    """Revoke a key for good."""
    key = await _editable(session, ctx, key_id)
    key.deleted_at = _now()
    await session.flush()
    await audit.record(session, ctx, "api_key.delete", entity_type="api_key", entity_id=key.id, before=_snapshot(key))
    await record_event(
        session,
        ctx,
        SecurityEventType.API_KEY_REVOKED,
        user_id=key.user_id,
        metadata={"api_key_id": key.id, "prefix": key.prefix},
    )
    return key


async def delete_member_keys(session: AsyncSession, ctx: RequestContext, membership_id: uuid.UUID) -> int:
    """Revoke every key of a membership (the member leaves)."""
    result = await session.execute(
        update(ApiKey)
        .where(ApiKey.membership_id == membership_id, ApiKey.deleted_at.is_(None))
        .values(deleted_at=_now())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


async def delete_user_keys(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Revoke every key a user holds in any organization (account deactivated); RLS: own rows only."""
    result = await session.execute(
        update(ApiKey)
        .where(ApiKey.user_id == user_id, ApiKey.deleted_at.is_(None))
        .values(deleted_at=_now())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


@dataclass(frozen=True)
class KeyPrincipal:
    """A key that authenticated: whose (with the owner's profile), for which organization, with which scopes."""

    id: uuid.UUID
    org_id: uuid.UUID
    user_id: uuid.UUID
    permissions: frozenset[str]
    email: str
    name: str
    mfa_enabled: bool
    owner_active: bool


# built once: runs on every API-key request; sets app.org_id and app.user_id from the key row it finds and
# brings the owner's profile along, so the request needs no second lookup of the user. Not the owner's date
# settings (profile.locale, profile.timezone): they format pages, and a key reaches only the JSON API, whose times
# are ISO 8601 in UTC — four settings lookups under row-level security were a third of this request's database time
_BY_DIGEST = Prepared(
    select(
        set_scope_column("org_id", ApiKey.organization_id),
        set_scope_column("user_id", ApiKey.user_id),
        ApiKey.id,
        ApiKey.organization_id,
        ApiKey.user_id,
        ApiKey.permissions,
        ApiKey.enabled,
        ApiKey.expires_at,
        ApiKey.last_used_at,
        User.email,
        User.name,
        User.mfa_enabled_at.is_not(None),
        (User.status == UserStatus.ACTIVE) & User.deleted_at.is_(None),
    )
    .join(User, User.id == ApiKey.user_id)
    .where(ApiKey.key_hash == bindparam("digest"), ApiKey.deleted_at.is_(None))
)


@dataclass(frozen=True)
class FoundKey:
    """A key row found by its digest, usable or not: the principal it would give and its state."""

    principal: KeyPrincipal
    enabled: bool
    expires_at: datetime | None
    last_used_at: datetime | None

    def usable(self, now: datetime) -> bool:
        """Enabled and not expired."""
        return self.enabled and (self.expires_at is None or self.expires_at > now)


async def lookup_key(session: AsyncSession, digest: bytes) -> FoundKey | None:
    """The undeleted key whose SHA-256 is `digest` (the credential must be revealed to RLS first); sets app.org_id
    and app.user_id to its organization and owner."""
    rows = await fetch_prepared(session, _BY_DIGEST, {"digest": digest})
    if not rows:
        return None
    _, _, key_id, org_id, user_id, permissions, enabled, expires_at, last_used_at, *owner = rows[0]
    principal = KeyPrincipal(key_id, org_id, user_id, frozenset(permissions), *owner)
    return FoundKey(principal, enabled, expires_at, last_used_at)


async def authenticate_key(session: AsyncSession, ctx: RequestContext, raw: str) -> KeyPrincipal | None:
    """The live, enabled, unexpired key behind `raw`, or None; records use at most once a minute per key."""
    digest = token_digest(raw)
    await reveal_by_credential(session, digest)  # stays for the request: it only shows the key presented
    found = await lookup_key(session, digest)
    if found is None:
        return None
    key = found.principal
    remember_scope(session, org_id=key.org_id, user_id=key.user_id)  # set in SQL by the lookup
    now = _now()
    if not found.usable(now):
        await record_event(
            session,
            ctx,
            SecurityEventType.API_KEY_REFUSED,
            user_id=key.user_id,
            organization_id=key.org_id,
            metadata={"api_key_id": key.id, "why": "disabled" if not found.enabled else "expired"},
        )
        return None
    if found.last_used_at is None or now - found.last_used_at >= USE_RECORDED_EVERY:
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == key.id)
            .values(last_used_at=now, last_used_ip=ctx.ip)
            .execution_options(synchronize_session=False)
        )
        await record_event(
            session,
            ctx,
            SecurityEventType.API_KEY_USED,
            user_id=key.user_id,
            organization_id=key.org_id,
            metadata={"api_key_id": key.id},
        )
    return key
