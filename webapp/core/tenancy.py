"""Request context and the Postgres row-level-security settings applied per transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.db import HELD, AppSession, driver_transaction_open

_SET_SCOPE = text(
    "SELECT set_config('app.org_id', :org, true), "
    "set_config('app.user_id', :user, true), "
    "set_config('app.bypass_rls', :bypass, true), "
    "set_config('app.credential', :credential, true)"
)


@dataclass
class RequestContext:
    """Who acts, for which organization, with which permissions."""

    user_id: uuid.UUID | None = None
    user_email: str | None = None
    user_name: str | None = None
    org_id: uuid.UUID | None = None
    org_slug: str | None = None
    org_name: str | None = None
    role: str | None = None
    permissions: frozenset[str] = field(default_factory=frozenset)
    impersonator_id: uuid.UUID | None = None  # staff acting as the user (webapp.support.impersonation)
    impersonation_id: uuid.UUID | None = None
    impersonation_until: object = None  # the impersonated session's hard end, for the banner
    # mission id -> permissions granted only for that mission (role assignments scoped to one mission)
    mission_permissions: dict[uuid.UUID, frozenset[str]] = field(default_factory=dict)
    break_glass_id: uuid.UUID | None = None
    break_glass_until: object = None
    api_key_id: uuid.UUID | None = None
    bound_org_id: uuid.UUID | None = None  # set when the credential itself names the organization
    session_id: uuid.UUID | None = None
    request_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    mfa_enabled: bool = False
    consent_due: bool = False  # a browser session asked to accept changed documents first (webapp.privacy)
    locale: str = "en"
    is_platform_admin: bool = False
    org_status: str | None = None
    timezone: str = "UTC"
    billing_locked: bool = False  # a payment is overdue past the grace period: the organization is read-only

    @property
    def is_authenticated(self) -> bool:
        """True once a principal has been resolved."""
        return self.user_id is not None

    def can(self, perm: str, mission_id: uuid.UUID | None = None) -> bool:
        """Whether the context holds a permission (organization-wide, or for `mission_id`)."""
        if perm in self.permissions:
            return True
        return mission_id is not None and perm in self.mission_permissions.get(mission_id, ())


def _scope_params(info: dict) -> dict:
    org = info.get("org_id")
    user = info.get("user_id")
    return {
        "org": str(org) if org else "",
        "user": str(user) if user else "",
        "bypass": "on" if info.get("bypass_rls") else "off",
        "credential": info.get("credential") or "",
    }


# the same statement for the driver connection (webapp.core.driver), positional
SET_SCOPE_POSITIONAL = (
    "SELECT set_config('app.org_id', $1, true), set_config('app.user_id', $2, true), "
    "set_config('app.bypass_rls', $3, true), set_config('app.credential', $4, true)"
)


def scope_arguments(info: dict) -> tuple[str, str, str, str] | None:
    """SET_SCOPE_POSITIONAL's arguments for a session's scope; None when there is none to set."""
    if not any(info.get(key) for key in ("org_id", "user_id", "bypass_rls", "credential")):
        return None
    params = _scope_params(info)
    return params["org"], params["user"], params["bypass"], params["credential"]


@event.listens_for(AppSession, "after_begin")
def _apply_scope_on_begin(session, transaction, connection) -> None:
    # set_config(..., true) is transaction-local, so every new transaction re-applies it;
    # a pooled connection never carries one tenant's setting into another's transaction.
    if connection.connection.dbapi_connection._transaction is not None:
        return  # the ORM joins a transaction the driver began: the driver set its scope and keeps it current
    if any(session.info.get(key) for key in ("org_id", "user_id", "bypass_rls", "credential")):
        connection.execute(_SET_SCOPE, _scope_params(session.info))


async def _apply_scope_now(session: AsyncSession) -> None:
    """Send the session's scope to the transaction under way, whether the ORM or the driver began it (set_config is
    transaction-local: a later transaction gets it from the begin hook or the driver)."""
    if session.in_transaction():
        await session.execute(_SET_SCOPE, _scope_params(session.info))
    elif driver_transaction_open(session.info):
        params = _scope_params(session.info)
        driver = session.info[HELD].connection.driver_connection
        await driver.execute(SET_SCOPE_POSITIONAL, params["org"], params["user"], params["bypass"],
                             params["credential"])  # fmt: skip


async def scope_session(
    session: AsyncSession,
    *,
    org_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> None:
    """Set the tenant (and user) that RLS policies see, now and for later transactions."""
    session.info["org_id"] = org_id
    session.info["user_id"] = user_id
    await _apply_scope_now(session)


def remember_scope(session: AsyncSession, *, org_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None) -> None:
    """Record a scope the current transaction already applied in SQL (see scope_columns) for later transactions."""
    session.info["org_id"] = org_id
    session.info["user_id"] = user_id


def set_scope_column(setting: str, column):
    """A select-list expression that sets app.<setting> from the returned row, saving a round trip.

    Only for queries on rows RLS does not hide from the caller; it runs once per returned row.
    """
    from sqlalchemy import String, cast, func

    if setting not in ("org_id", "user_id"):
        raise ValueError(setting)
    return func.set_config(f"app.{setting}", cast(column, String), True)


async def enable_rls_bypass(session: AsyncSession, *, reason: str) -> None:
    """Platform-admin paths only: let policies pass every row. Callers audit the reason."""
    if not reason:
        raise ValueError("an RLS bypass needs a reason")
    session.info["bypass_rls"] = True
    session.info["bypass_reason"] = reason
    await _apply_scope_now(session)


async def reveal_by_credential(session: AsyncSession, digest: bytes | None) -> None:
    """Let RLS show the one invitation or API key whose SHA-256 is `digest` (None hides it again).

    Set before the row's organization is known; harmless to leave for the request, as it reveals
    only the row whose secret the caller presented.
    """
    session.info["credential"] = digest.hex() if digest else None
    await _apply_scope_now(session)
