"""Account pages: profile (/me), email address, password, email preferences, deactivation."""

from __future__ import annotations

from quart import Blueprint, current_app, flash, g, redirect, request, url_for
from quart_auth import logout_user

from webapp.core.conflicts import differences, form_labels
from webapp.core.errors import Conflict, DomainError
from webapp.core.forms import read_form, show_errors
from webapp.core.htmx import is_htmx, render, toast
from webapp.core.permissions import public, requires
from webapp.core.transaction import db_session
from webapp.identity import profile
from webapp.identity.forms import (
    DeactivateForm,
    EmailChangeForm,
    PasswordChangeForm,
    ProfileForm,
    TokenForm,
)
from webapp.identity.queries import get_user

bp = Blueprint("profile", __name__)


def _profile_form(user, formdata=None) -> ProfileForm:
    form = ProfileForm(
        formdata=formdata,
        data=None if formdata else {"version": user.version, "name": user.name},
    )
    return form


def _profile_differences(form: ProfileForm, current: dict) -> list:
    """What the person typed that differs from the saved profile, the selects by their visible labels."""
    fields = ("name",)
    return differences({n: current[n] for n in fields}, {n: form[n].data for n in fields}, form_labels(form, fields))


async def _page(
    user,
    *,
    status: int = 200,
    profile_form=None,
    email_form=None,
    password_form=None,
    deactivate_form=None,
    conflict=None,
    orphaned=None,
    error=None,
):
    pending = await profile.pending_email_change(db_session(), user.id)
    return await render(
        "identity/profile.html",
        user=user,
        pending_email=pending,
        status=status,
        profile_form=profile_form or _profile_form(user),
        conflict=conflict,
        email_form=email_form or EmailChangeForm(),
        password_form=password_form or PasswordChangeForm(),
        deactivate_form=deactivate_form or DeactivateForm(),
        orphaned=orphaned,
        error=error,
    )


def _unplaced(exc: DomainError) -> str | None:
    """The message of an error that names no form field (it would be lost otherwise)."""
    return None if exc.details.get("fields") else exc.message


async def _me(*, lock: bool = False):
    return await get_user(db_session(), g.ctx.user_id, lock=lock)


@bp.get("/me")
@requires()
async def me():
    """Your profile, address, password and the way out."""
    return await _page(await _me())


@bp.post("/me")
@requires()
async def update():
    """Save the name; htmx swaps the section, a stale form shows the conflict."""
    user = await _me(lock=True)
    form = _profile_form(user, await request.form)
    status, conflict, saved = 200, None, False
    if not form.validate():
        status = 422
    else:
        try:
            await profile.update_profile(
                db_session(),
                g.ctx,
                user,
                name=form.name.data,
                version=int(form.version.data or 0) or None,
            )
            saved = True
        except Conflict as exc:
            status, conflict = 409, _profile_differences(form, exc.details["current"])
            form.version.data = exc.details["current"]["version"]  # saving again replaces it knowingly
        except DomainError as exc:
            show_errors(form, exc)
            status = exc.status_code
    if is_htmx():
        response = await render(
            "identity/_profile_form.html", user=user, profile_form=form, conflict=conflict, status=status
        )
        return toast(response, "Profile saved.") if saved else response
    if saved:
        await flash("Profile saved.", "success")
        return redirect(url_for("profile.me"), 303)
    return await _page(user, status=status, profile_form=form, conflict=conflict)


@bp.post("/me/email")
@requires()
async def change_email():
    """Send a confirmation link to the new address (the current password is needed)."""
    user = await _me(lock=True)
    form = await read_form(EmailChangeForm)
    if not form.validate():
        return await _page(user, status=422, email_form=form)
    try:
        ended = await profile.request_email_change(
            db_session(),
            g.ctx,
            user,
            new_email=form.email.data,
            current_password=form.current_password.data,
            base_url=current_app.extensions["closedloop"]["settings"].base_url,
            end_other_sessions=form.end_other_sessions.data,
        )
    except DomainError as exc:
        show_errors(form, exc)
        return await _page(user, status=exc.status_code, email_form=form, error=_unplaced(exc))
    note = f" {ended} other session{'' if ended == 1 else 's'} signed out." if ended else ""
    await flash(
        f"We sent a confirmation link to {form.email.data}. Your address changes when you follow it.{note}", "success"
    )
    return redirect(url_for("profile.me"), 303)


@bp.get("/me/email/confirm")
@public
async def confirm_email():
    """The link sent to the new address lands on a button (mail scanners follow links, never post)."""
    return await render(
        "identity/token_confirm.html",
        form=TokenForm(data={"token": request.args.get("token", "")}),
        action=url_for("profile.confirm_email_submit"),
        title="Confirm your new email",
        text="Use this address to sign in to ClosedLoop from now on.",
        button="Use this address",
    )


@bp.post("/me/email/confirm")
@public
async def confirm_email_submit():
    """Switch the account to the new address."""
    form = await read_form(TokenForm)
    user = await profile.confirm_email_change(db_session(), g.ctx, form.token.data or "")
    await flash(f"Done: you sign in with {user.email} from now on.", "success")
    return redirect(url_for("profile.me") if g.ctx.is_authenticated else url_for("identity.login"), 303)


@bp.post("/me/password")
@requires()
async def change_password():
    """Change the password; other sessions end when the box is ticked (the default)."""
    user = await _me(lock=True)
    form = await read_form(PasswordChangeForm)
    if not form.validate():
        return await _page(user, status=422, password_form=form)
    try:
        ended = await profile.change_password(
            db_session(),
            g.ctx,
            user,
            current_password=form.current_password.data,
            new_password=form.password.data,
            end_other_sessions=form.end_other_sessions.data,
        )
    except DomainError as exc:
        show_errors(form, exc)
        return await _page(user, status=exc.status_code, password_form=form, error=_unplaced(exc))
    note = f" {ended} other session{'' if ended == 1 else 's'} signed out." if ended else ""
    await flash(f"Password changed.{note}", "success")
    return redirect(url_for("profile.me"), 303)


@bp.get("/me/preferences/email")
@requires()
async def email_preferences():
    """Which optional emails you receive."""
    user = await _me()
    return await render(
        "identity/email_preferences.html",
        categories=[(profile.category(d), d.label) for d in profile.EMAIL_CATEGORIES],
        preferences=await profile.email_preferences(db_session(), user.id),
        always=profile.ALWAYS_SENT,
    )


@bp.post("/me/preferences/email")
@bp.patch("/me/preferences/email")
@requires()
async def save_email_preferences():
    """Save the checkboxes (htmx saves on every change and answers with a status line)."""
    posted = await request.form
    changes = {profile.category(d): posted.get(profile.category(d)) == "on" for d in profile.EMAIL_CATEGORIES}
    preferences = await profile.set_email_preferences(db_session(), g.ctx, changes)
    if is_htmx():
        return await render("identity/_preferences_saved.html", preferences=preferences)
    await flash("Email preferences saved.", "success")
    return redirect(url_for("profile.email_preferences"), 303)


@bp.post("/me/deactivate")
@bp.delete("/me")
@requires()
async def deactivate():
    """Deactivate the account at once (sessions end, keys are deleted) and record a deletion request."""
    user = await _me(lock=True)
    form = await read_form(DeactivateForm)
    if not form.validate():
        return await _page(user, status=422, deactivate_form=form)
    try:
        request_row = await profile.deactivate_account(
            db_session(), g.ctx, user, current_password=form.current_password.data, reason=form.reason.data
        )
    except Conflict as exc:
        return await _page(user, status=409, deactivate_form=form, orphaned=exc.message)
    except DomainError as exc:
        show_errors(form, exc)
        return await _page(user, status=exc.status_code, deactivate_form=form, error=_unplaced(exc))
    logout_user()
    await flash(
        "Your account is deactivated and you are signed out everywhere. Your personal data is being erased (at the "
        f"latest by {request_row.due_at.strftime('%d %B %Y')}).",
        "info",
    )
    return redirect(url_for("identity.login"), 303)
