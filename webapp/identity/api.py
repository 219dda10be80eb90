"""JSON API: login with bearer tokens, refresh, logout, email links, sessions, and the caller's own account."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from quart import Blueprint, current_app, g
from quart_schema import document_request

from webapp.core.errors import Forbidden, NotFound, Unauthorized, ValidationError
from webapp.core.forms import csrf_exempt, parse_body
from webapp.core.ids import parse_id
from webapp.core.openapi import Items, raises, returns
from webapp.core.permissions import public, refuse_api_keys, requires
from webapp.core.tenancy import scope_session
from webapp.core.transaction import commit, db_session
from webapp.identity import accounts, bearer, profile, service, signin
from webapp.identity.queries import describe_device, get_user, list_live_sessions
from webapp.identity.schemas import (
    DeactivatedOut,
    EmailPreferencesIn,
    EmailPreferencesOut,
    LoginIn,
    MeDeleteIn,
    MeOut,
    MePatch,
    MessageOut,
    PasswordChangeIn,
    RefreshIn,
    ResetPasswordIn,
    SessionOut,
    TokenIn,
    TokensOut,
)
from webapp.identity.tasks import ask_for_password_reset
from webapp.organizations.context import enter_org
from webapp.organizations.queries import find_membership

bp = Blueprint("identity_api", __name__, url_prefix="/api/v1")


def _settings():
    return current_app.extensions["closedloop"]["settings"]


def _ttls() -> dict:
    settings = _settings()
    return {
        "access_ttl": timedelta(minutes=settings.access_token_minutes),
        "refresh_ttl": timedelta(days=settings.refresh_token_days),
    }


def _tokens_out(pair: bearer.TokenPair) -> dict:
    now = datetime.now(UTC)
    return TokensOut(
        access_token=pair.access_token,
        expires_in=int((pair.access_expires_at - now).total_seconds()),
        refresh_token=pair.refresh_token,
        refresh_expires_in=int((pair.refresh_expires_at - now).total_seconds()),
        session_id=pair.session_id,
        organization_id=pair.organization_id,
    ).model_dump(mode="json")


@bp.post("/auth/login")
@public
@csrf_exempt  # answers with tokens in the body and sets no cookie, so there is no session to forge a request with
@document_request(LoginIn)
@returns(TokensOut, 201)
@raises(401, 403, 429)
async def login():
    """Email + password (+ TOTP) for one organization → access and refresh tokens bound to it."""
    data = await parse_body(LoginIn)
    session, ctx = db_session(), g.ctx
    user = await signin.check_password(session, ctx, data.email, data.password)
    if user.mfa_enabled_at is not None:
        if not data.totp:
            raise Unauthorized(
                "This account uses two-factor authentication: send `totp` with a current code.", {"mfa_required": True}
            )
        await signin.check_second_factor(session, ctx, user, data.totp)
    await scope_session(session, user_id=user.id)
    org_id = parse_id(data.organization)
    membership = await find_membership(
        session, user_id=user.id, org_id=org_id, slug=None if org_id else data.organization.strip().lower()
    )
    if membership is None:
        raise Forbidden("You are not a member of that organization.", {"fields": {"organization": ["Not a member."]}})
    ctx.mfa_enabled = user.mfa_enabled_at is not None
    enter_org(ctx, membership)  # suspended, or requires two-factor the account does not have: 403
    pair = await bearer.start_api_session(
        session, ctx, user, org_id=membership.org_id, absolute=timedelta(days=_settings().refresh_token_days), **_ttls()
    )
    return _tokens_out(pair), 201


@bp.post("/auth/refresh")
@public
@csrf_exempt
@document_request(RefreshIn)
@returns(TokensOut)
@raises(401, 403)
async def refresh():
    """A new token pair for a refresh token, which then stops working; reusing it revokes the whole login."""
    data = await parse_body(RefreshIn)
    session = db_session()
    try:
        pair = await bearer.refresh(session, g.ctx, data.refresh_token, **_ttls())
    except bearer.RefreshReused:
        await commit(session)  # the revocation and its security event must survive the 401
        raise
    return _tokens_out(pair)


@bp.post("/auth/logout")
@requires()
@returns(None, 204)
async def logout():
    """End the calling login (its access and refresh tokens, or the browser session): 204."""
    refuse_api_keys()
    await service.revoke_session(db_session(), g.ctx, g.ctx.session_id, reason="logout")
    return "", 204


@bp.post("/auth/verify-email")
@public
@csrf_exempt
@document_request(TokenIn)
@returns(None, 204)
async def verify_email():
    """Confirm an address with the token from the emailed link (single use): 204."""
    data = await parse_body(TokenIn)
    await accounts.verify_email(db_session(), g.ctx, data.token)
    return "", 204


@bp.post("/auth/reset-password")
@public
@csrf_exempt
@document_request(ResetPasswordIn)
@returns(MessageOut, 202)
@returns(None, 204)
async def reset_password():
    """`{email}` → 202, a link is emailed if the account exists; `{token, password}` → 204, every session ends."""
    data = await parse_body(ResetPasswordIn)
    session = db_session()
    if data.token:
        if not data.password:
            raise ValidationError.field("password", "Send the new password with the token.")
        await accounts.reset_password(session, g.ctx, data.token, data.password)
        return "", 204
    if not data.email:
        raise ValidationError.field("email", "Send `email` to get a link, or `token` and `password` to use one.")
    await ask_for_password_reset(g.ctx, service.normalize_email(data.email))
    return {"message": "If an account uses this address, a reset link is on its way."}, 202


def _session_out(row) -> dict:
    return SessionOut(
        id=row.id,
        kind=row.kind,
        device=describe_device(row.user_agent),
        ip=str(row.ip) if row.ip else None,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        organization_id=row.organization_id,
        current=row.id == g.ctx.session_id,
    ).model_dump(mode="json")


@bp.get("/auth/sessions")
@requires()
@returns(Items[SessionOut])
async def sessions():
    """The caller's live sessions (browser and JSON logins), most recent first."""
    refuse_api_keys()
    rows = await list_live_sessions(db_session(), g.ctx.user_id)
    return {"items": [_session_out(r) for r in rows]}


@bp.delete("/auth/sessions/<uuid:session_id>")
@requires()
@returns(None, 204)
async def end_session(session_id: uuid.UUID):
    """End one of the caller's sessions: 204; someone else's or an ended one: 404."""
    refuse_api_keys()
    if not await service.revoke_own_session(db_session(), g.ctx, session_id):
        raise NotFound("No such session.")
    return "", 204


async def me_out(user) -> dict:
    """The caller's account as JSON."""
    pending = await profile.pending_email_change(db_session(), user.id)
    return MeOut(
        id=user.id,
        email=user.email,
        email_verified=user.email_verified_at is not None,
        pending_email=pending,
        name=user.name,
        **await profile.date_settings(db_session(), user.id),
        mfa_enabled=user.mfa_enabled_at is not None,
        email_preferences=await profile.email_preferences(db_session(), user.id),
        created_at=user.created_at,
        version=user.version,
    ).model_dump(mode="json")


@bp.get("/me")
@requires()
@returns(MeOut)
async def me():
    """The caller's own account."""
    refuse_api_keys()
    return await me_out(await get_user(db_session(), g.ctx.user_id))


@bp.patch("/me")
@requires()
@document_request(MePatch)
@returns(MeOut)
@raises(409, 429)
async def update_me():
    """Name, locale, time zone (409 on a stale `version`); a new `email` needs `current_password`.

    The new address is confirmed by the link sent to it."""
    refuse_api_keys()
    data = await parse_body(MePatch)
    session = db_session()
    user = await get_user(session, g.ctx.user_id, lock=True)
    await profile.update_profile(
        session, g.ctx, user, name=data.name, locale=data.locale, timezone=data.timezone, version=data.version
    )
    if data.email is not None:
        await profile.request_email_change(
            session,
            g.ctx,
            user,
            new_email=data.email,
            current_password=data.current_password or "",
            base_url=_settings().base_url,
            end_other_sessions=data.end_other_sessions,
        )
    return await me_out(user)


@bp.post("/me/password")
@requires()
@document_request(PasswordChangeIn)
@returns(None, 204)
@raises(429)
async def change_password():
    """Change the password (current one required); other sessions end unless `end_other_sessions` is false: 204."""
    refuse_api_keys()
    data = await parse_body(PasswordChangeIn)
    session = db_session()
    user = await get_user(session, g.ctx.user_id, lock=True)
    await profile.change_password(
        session,
        g.ctx,
        user,
        current_password=data.current_password,
        new_password=data.new_password,
        end_other_sessions=data.end_other_sessions,
    )
    return "", 204


@bp.patch("/me/preferences/email")
@requires()
@document_request(EmailPreferencesIn)
@returns(EmailPreferencesOut)
async def email_preferences():
    """Turn optional email categories on or off; answers with every category's setting."""
    refuse_api_keys()
    data = await parse_body(EmailPreferencesIn)
    return {
        "preferences": await profile.set_email_preferences(db_session(), g.ctx, data.preferences),
        "always_sent": profile.ALWAYS_SENT,
    }


@bp.delete("/me")
@requires()
@document_request(MeDeleteIn)
@returns(DeactivatedOut, 202)
@raises(409, 429)
async def delete_me():
    """Deactivate the account at once and record a deletion request: 202 with the request's id and due date."""
    refuse_api_keys()
    data = await parse_body(MeDeleteIn)
    session = db_session()
    user = await get_user(session, g.ctx.user_id, lock=True)
    request = await profile.deactivate_account(
        session, g.ctx, user, current_password=data.current_password, reason=data.reason
    )
    return DeactivatedOut(
        deletion_request={"id": request.id, "status": request.status, "due_at": request.due_at}
    ).model_dump(mode="json"), 202
