"""Sign-in, sign-out and the landing redirect."""
from __future__ import annotations

from datetime import timedelta

from quart import Blueprint, current_app, flash, g, redirect, request, url_for
from quart_auth import AuthUser, login_user, logout_user

from webapp.core.errors import Unauthorized
from webapp.core.forms import form_errors, read_form
from webapp.core.htmx import render
from webapp.core.permissions import public, requires
from webapp.core.transaction import commit, db_session
from webapp.identity import service
from webapp.identity.forms import LoginForm
from webapp.organizations.queries import list_memberships

bp = Blueprint("identity", __name__)


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: '/x' yes, '//evil' or 'https://evil' no."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


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
        return redirect(_safe_next(request.args.get("next")) or url_for("identity.landing"))
    form = LoginForm(data={"next": _safe_next(request.args.get("next")) or ""})
    return await render("identity/login.html", form=form, ended=g.get("session_ended"))


@bp.post("/login")
@public
async def login_submit():
    """Check credentials, start a server-side session, set the cookie."""
    form = await read_form(LoginForm)
    if not form.validate():
        return await render("identity/login.html", form=form, status=422, errors=form_errors(form))
    settings = current_app.extensions["closedloop"]["settings"]
    try:
        user = await service.authenticate(db_session(), g.ctx, email=form.email.data, password=form.password.data)
    except Unauthorized as exc:
        await commit(db_session())  # the failed attempt's audit row must survive the 401's rollback
        return await render("identity/login.html", form=form, status=401, login_error=exc.message)
    token, _ = await service.start_session(
        db_session(), g.ctx, user, absolute=timedelta(hours=settings.session_absolute_hours)
    )
    login_user(AuthUser(token))
    await flash(f"Welcome back, {user.name}.", "success")
    return redirect(_safe_next(form.next.data) or url_for("identity.landing"), 303)


@bp.post("/logout")
@requires()
async def logout():
    """End the session server-side and clear the cookie."""
    await service.revoke_session(db_session(), g.ctx, g.ctx.session_id, reason="logout")
    logout_user()
    await flash("You are signed out.", "info")
    return redirect(url_for("identity.login"), 303)
