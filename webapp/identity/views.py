"""Sign-in, sign-out and the landing redirect."""

from __future__ import annotations

import math
from datetime import timedelta

from quart import Blueprint, current_app, flash, g, redirect, request, url_for
from quart_auth import AuthUser, login_user, logout_user

from webapp.core.errors import (
    DomainError,
    NotFound,
    RateLimited,
    Unauthorized,
    ValidationError,
)
from webapp.core.forms import form_errors, read_form, rotate_csrf, show_errors
from webapp.core.htmx import render, wants_json
from webapp.core.ids import parse_id
from webapp.core.permissions import public, requires
from webapp.core.redirects import safe_next, same_site_referrer
from webapp.core.transaction import after_commit, db_session
from webapp.identity import accounts, service, signin
from webapp.identity.forms import (
    ForgotPasswordForm,
    LoginForm,
    ResetPasswordForm,
    SignUpForm,
    TokenForm,
)
from webapp.identity.mfa_views import start_challenge
from webapp.identity.queries import describe_device, get_user, list_live_sessions
from webapp.identity.tasks import ask_for_password_reset
from webapp.identity.throttle import account_key
from webapp.organizations import service as organizations
from webapp.organizations.queries import list_memberships
from webapp.privacy.views import after_sign_in

bp = Blueprint("identity", __name__)


@bp.get("/")
@public
async def landing():
    """Signed in: the first organization's home; otherwise the sign-in page."""
    if not g.ctx.is_authenticated:
        return redirect(url_for("identity.login"))
    memberships = await list_memberships(db_session(), g.ctx.user_id)
    if not memberships:
        return await render("organizations/none.html")
    return redirect(url_for("organizations.home", org_slug=memberships[0].slug))


@bp.get("/login")
@public
async def login():
    """The sign-in form."""
    if g.ctx.is_authenticated:
        return redirect(safe_next(request.args.get("next")) or url_for("identity.landing"))
    form = LoginForm(data={"next": safe_next(request.args.get("next")) or ""})
    return await render("identity/login.html", form=form, ended=g.get("session_ended"))


@bp.post("/login")
@public
async def login_submit():
    """Check credentials under the sign-in throttle, start a server-side session, set the cookie."""
    form = await read_form(LoginForm)
    if not form.validate():
        return await render("identity/login.html", form=form, status=422, errors=form_errors(form))
    settings, session = current_app.extensions["closedloop"]["settings"], db_session()
    try:
        user = await signin.check_password(session, g.ctx, form.email.data, form.password.data)
    except (RateLimited, Unauthorized) as exc:
        if wants_json():
            raise
        response = await render("identity/login.html", form=form, status=exc.status_code, login_error=exc.message)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if user.mfa_enabled_at is not None:  # the password was right; the session waits for the second factor
        return start_challenge(redirect(url_for("mfa.challenge"), 303), user.id, safe_next(form.next.data))
    token, auth_session = await service.start_session(
        session, g.ctx, user, absolute=timedelta(hours=settings.session_absolute_hours)
    )
    login_user(AuthUser(token))
    rotate_csrf()
    await flash(f"Welcome back, {user.name}.", "success")
    return redirect(await after_sign_in(session, auth_session, safe_next(form.next.data)), 303)


@bp.post("/logout")
@requires()
async def logout():
    """End the session server-side and clear the cookie."""
    await service.revoke_session(db_session(), g.ctx, g.ctx.session_id, reason="logout")
    logout_user()
    await flash("You are signed out.", "info")
    return redirect(url_for("identity.login"), 303)


@bp.get("/signup")
@public
async def signup():
    """Create an account and an organization."""
    if g.ctx.is_authenticated:
        return redirect(url_for("identity.landing"))
    return await render("identity/signup.html", form=SignUpForm())


@bp.post("/signup")
@public
async def signup_submit():
    """Create the user, the organization and its owner membership; sign in; email a verification link."""
    form = await read_form(SignUpForm)
    if not form.validate():
        return await render("identity/signup.html", form=form, status=422)
    settings, session = current_app.extensions["closedloop"]["settings"], db_session()
    throttle, ip = current_app.extensions["closedloop"]["throttle"], g.ctx.ip or "unknown"
    verdict = await throttle.signup_verdict(ip)
    if not verdict.allowed:
        response = await render(
            "identity/signup.html",
            form=form,
            status=429,
            error=(
                f"Too many sign-ups from your network. Try again in about {math.ceil(verdict.retry_after / 60)} min."
            ),
        )
        response.headers["Retry-After"] = str(verdict.retry_after)
        return response
    await throttle.record_signup(ip)
    try:
        created = await accounts.sign_up(
            session,
            g.ctx,
            name=form.name.data,
            email=form.email.data,
            password=form.password.data,
            org_name=form.org_name.data,
            org_slug=form.org_slug.data or organizations.suggest_slug(form.org_name.data),
            base_url=settings.base_url,
            product_news=bool(form.product_news.data),
        )
    except DomainError as exc:
        show_errors(form, exc)
        return await render("identity/signup.html", form=form, status=exc.status_code)
    token, _ = await service.start_session(
        session, g.ctx, created.user, absolute=timedelta(hours=settings.session_absolute_hours)
    )
    login_user(AuthUser(token))
    rotate_csrf()
    await flash(f"Welcome to ClosedLoop. We sent a confirmation link to {created.user.email}.", "success")
    return redirect(url_for("organizations.home", org_slug=created.org_slug), 303)


async def _confirm_page(submit_endpoint: str, title: str, text: str, button: str):
    """An emailed link lands on a button; only its POST uses the token (mail scanners follow links, never post)."""
    return await render(
        "identity/token_confirm.html",
        form=TokenForm(data={"token": request.args.get("token", "")}),
        action=url_for(submit_endpoint),
        title=title,
        text=text,
        button=button,
    )


async def _posted_token() -> str:
    """The token a confirm page posted back (consume_token refuses empty or oversized ones)."""
    return (await read_form(TokenForm)).token.data or ""


@bp.get("/verify-email")
@public
async def verify_email():
    """The verification link's landing page."""
    return await _confirm_page(
        "identity.verify_email_submit", "Confirm your email", "Confirm that this address is yours.", "Confirm my email"
    )


@bp.post("/verify-email")
@public
async def verify_email_submit():
    """Consume the verification token."""
    user = await accounts.verify_email(db_session(), g.ctx, await _posted_token())
    await flash(f"Thank you: {user.email} is confirmed.", "success")
    return redirect(url_for("identity.landing"), 303)


@bp.post("/verify-email/resend")
@requires()
async def resend_verification():
    """Send a fresh verification link to the signed-in user."""
    settings = current_app.extensions["closedloop"]["settings"]
    user = await get_user(db_session(), g.ctx.user_id)
    if user.email_verified_at is None:
        await accounts.send_verification(db_session(), g.ctx, user, base_url=settings.base_url)
    await flash(f"We sent a new confirmation link to {user.email}.", "info")
    return redirect(same_site_referrer(request.referrer, request.host) or url_for("identity.landing"), 303)


@bp.get("/forgot-password")
@public
async def forgot_password():
    """Ask for a reset link (after a request: the same confirmation whatever the address)."""
    return await render("identity/forgot.html", form=ForgotPasswordForm(), sent=request.args.get("sent") == "1")


@bp.post("/forgot-password")
@public
async def forgot_password_submit():
    """Email a reset link if the account exists; the answer is the same either way."""
    form = await read_form(ForgotPasswordForm)
    if not form.validate():
        return await render("identity/forgot.html", form=form, status=422)
    await ask_for_password_reset(g.ctx, form.email.data)
    return redirect(url_for("identity.forgot_password", sent="1"), 303)


@bp.get("/reset-password")
@public
async def reset_password():
    """Choose a new password from an emailed link."""
    return await render("identity/reset.html", form=ResetPasswordForm(data={"token": request.args.get("token", "")}))


@bp.post("/reset-password")
@public
async def reset_password_submit():
    """Set the new password, end every session, and send the user to sign in (MFA still applies)."""
    form = await read_form(ResetPasswordForm)
    if not form.validate():
        return await render("identity/reset.html", form=form, status=422)
    try:
        await accounts.reset_password(db_session(), g.ctx, form.token.data, form.password.data)
    except ValidationError as exc:
        form.password.errors = exc.details.get("fields", {}).get("password", [exc.message])
        return await render("identity/reset.html", form=form, status=422)
    await flash("Your password was changed and every session was signed out. Sign in with the new password.", "success")
    return redirect(url_for("identity.login"), 303)


@bp.get("/unlock")
@public
async def unlock():
    """The unlock link from the lock-out email."""
    return await _confirm_page(
        "identity.unlock_submit",
        "Unlock your account",
        "Lift the temporary lock on your account now.",
        "Unlock my account",
    )


@bp.post("/unlock")
@public
async def unlock_submit():
    """Consume the unlock token and lift the lock once committed."""
    session = db_session()
    user = await accounts.unlock_account(session, g.ctx, await _posted_token())
    throttle = current_app.extensions["closedloop"]["throttle"]
    after_commit(session, lambda: throttle.unlock(account_key(user.email)))
    await flash("Your account is unlocked. If the failed sign-ins were not yours, change your password now.", "success")
    return redirect(url_for("identity.login"), 303)


@bp.get("/me/sessions")
@requires()
async def sessions():
    """Where you are signed in: device, address, last activity; end one or all others."""
    rows = await list_live_sessions(db_session(), g.ctx.user_id)
    return await render("identity/sessions.html", sessions=[(r, describe_device(r.user_agent)) for r in rows])


@bp.post("/me/sessions/<session_id>/revoke")
@requires()
async def revoke_session(session_id: str):
    """End one of your sessions (ending the current one signs you out)."""
    target = parse_id(session_id)
    if target is None or not await service.revoke_own_session(db_session(), g.ctx, target):
        raise NotFound("No such session.")
    if target == g.ctx.session_id:
        logout_user()
        await flash("You are signed out.", "info")
        return redirect(url_for("identity.login"), 303)
    await flash("That session has been signed out.", "success")
    return redirect(url_for("identity.sessions"), 303)


@bp.post("/me/sessions/revoke-others")
@requires()
async def revoke_other_sessions():
    """End every session but this one."""
    ended = await service.revoke_user_sessions(
        db_session(), g.ctx, g.ctx.user_id, reason="revoked_by_user", keep=g.ctx.session_id
    )
    await flash(f"Signed out {ended} other session{'' if ended == 1 else 's'}.", "success")
    return redirect(url_for("identity.sessions"), 303)
