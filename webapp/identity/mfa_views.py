"""MFA pages: the sign-in challenge and the account security page (enrol, recovery codes, disable)."""

from __future__ import annotations

from datetime import timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from quart import Blueprint, current_app, flash, g, redirect, request, url_for
from quart_auth import AuthUser, login_user

from webapp.core.errors import RateLimited, Unauthorized, ValidationError
from webapp.core.forms import raise_for_form, read_form, rotate_csrf, show_errors
from webapp.core.htmx import render
from webapp.core.permissions import public, requires
from webapp.core.redirects import safe_next
from webapp.core.transaction import commit, db_session
from webapp.identity import mfa, service, signin
from webapp.identity.forms import (
    MfaChallengeForm,
    MfaDisableForm,
    MfaEnableForm,
    PasswordConfirmForm,
)
from webapp.identity.queries import get_user
from webapp.privacy.views import after_sign_in

bp = Blueprint("mfa", __name__)

PENDING_COOKIE = "cl_mfa"
PENDING_SECONDS = 5 * 60


def _settings():
    return current_app.extensions["closedloop"]["settings"]


def _pending_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_settings().secret_key, salt="closedloop-mfa-pending")


def start_challenge(response, user_id, next_path: str | None):
    """After a correct password: remember who is half-way signed in, for five minutes, in a signed cookie."""
    value = _pending_serializer().dumps({"u": str(user_id), "n": next_path or ""})
    response.set_cookie(
        PENDING_COOKIE,
        value,
        max_age=PENDING_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=_settings().cookie_secure,
        path="/login",
    )
    return response


def _pending() -> dict | None:
    try:
        return _pending_serializer().loads(request.cookies.get(PENDING_COOKIE, ""), max_age=PENDING_SECONDS)
    except BadSignature:
        return None


@bp.get("/login/mfa")
@public
async def challenge():
    """Ask for the second factor."""
    if _pending() is None:
        await flash("Sign in with your password first.", "info")
        return redirect(url_for("identity.login"))
    return await render("identity/mfa_challenge.html", form=MfaChallengeForm())


@bp.post("/login/mfa")
@public
async def challenge_submit():
    """Check the code (throttled like passwords), then start the session."""
    pending = _pending()
    if pending is None:
        await flash("That sign-in took too long. Start again.", "info")
        return redirect(url_for("identity.login"), 303)
    form = await read_form(MfaChallengeForm)
    if not form.validate():
        return await render("identity/mfa_challenge.html", form=form, status=422)
    session = db_session()
    user = await get_user(session, pending["u"])
    try:
        await signin.check_second_factor(session, g.ctx, user, form.code.data)
    except (RateLimited, Unauthorized) as exc:
        message = (
            "Too many wrong codes. Wait a few minutes and sign in again."
            if isinstance(exc, RateLimited)
            else exc.message
        )
        response = await render("identity/mfa_challenge.html", form=form, status=exc.status_code, error=message)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    token, auth_session = await service.start_session(
        session, g.ctx, user, absolute=timedelta(hours=_settings().session_absolute_hours)
    )
    login_user(AuthUser(token))
    rotate_csrf()
    await flash(f"Welcome back, {user.name}.", "success")
    response = redirect(await after_sign_in(session, auth_session, safe_next(pending.get("n"))), 303)
    response.delete_cookie(PENDING_COOKIE, path="/login")
    return response


async def _security_page(
    user,
    *,
    status: int = 200,
    codes: list[str] | None = None,
    enable_form=None,
    disable_form=None,
    regenerate_form=None,
):
    enrolment = None
    if user.mfa_enabled_at is None:
        secret, uri = mfa.new_enrolment(user.email)
        enable_form = enable_form or MfaEnableForm()
        enable_form.sealed.data = mfa.seal(_settings().secret_key, secret)
        enrolment = {"secret": secret, "qr": mfa.qr_data_uri(uri)}
    remaining = await mfa.remaining_recovery_codes(db_session(), user.id) if user.mfa_enabled_at else 0
    return await render(
        "identity/security.html",
        user=user,
        enrolment=enrolment,
        codes=codes,
        remaining=remaining,
        enable_form=enable_form,
        disable_form=disable_form or MfaDisableForm(),
        regenerate_form=regenerate_form or PasswordConfirmForm(),
        status=status,
    )


@bp.get("/me/security")
@requires()
async def security():
    """Two-factor status, enrolment with a QR code, recovery codes."""
    return await _security_page(await get_user(db_session(), g.ctx.user_id))


@bp.post("/me/security/mfa/enable")
@requires()
async def enable():
    """Confirm the first code and the password; show the recovery codes once."""
    session = db_session()
    user = await get_user(session, g.ctx.user_id)
    form = await read_form(MfaEnableForm)
    if not form.validate():
        return await _security_page(user, status=422, enable_form=form)
    try:
        codes = await mfa.enable_mfa(
            session,
            g.ctx,
            user,
            secret_key=_settings().secret_key,
            sealed_secret=form.sealed.data,
            code=form.code.data,
            password=form.password.data,
        )
    except ValidationError as exc:
        show_errors(form, exc)
        return await _security_page(user, status=422, enable_form=form)
    return await _security_page(user, codes=codes)


@bp.post("/me/security/mfa/disable")
@requires()
async def disable():
    """Turn MFA off (password and a current code)."""
    session = db_session()
    user = await get_user(session, g.ctx.user_id)
    form = await read_form(MfaDisableForm)
    try:
        if not form.validate():
            raise_for_form(form)
        await mfa.disable_mfa(
            session, g.ctx, user, secret_key=_settings().secret_key, code=form.code.data, password=form.password.data
        )
    except ValidationError as exc:
        show_errors(form, exc)
        await commit(session)  # a failed code's security event stays
        return await _security_page(user, status=422, disable_form=form)
    await flash("Two-factor authentication is off.", "info")
    return redirect(url_for("mfa.security"), 303)


@bp.post("/me/security/mfa/recovery-codes")
@requires()
async def regenerate():
    """New recovery codes (password required); the old ones stop working."""
    session = db_session()
    user = await get_user(session, g.ctx.user_id)
    form = await read_form(PasswordConfirmForm)
    try:
        if not form.validate():
            raise_for_form(form)
        codes = await mfa.regenerate_recovery_codes(session, g.ctx, user, password=form.password.data)
    except ValidationError as exc:
        show_errors(form, exc)
        return await _security_page(user, status=422, regenerate_form=form)
    return await _security_page(user, codes=codes)
