"""Your privacy requests in the browser: ask for a copy of your data or for erasure (your password again proves it
is you), follow each step, cancel one that has not started, confirm one made over the API by its emailed link, and
download a finished export."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from quart import Blueprint, current_app, flash, g, redirect, request, url_for
from quart_auth import logout_user

from webapp.collaboration.storage import store_for
from webapp.core.errors import Conflict, DomainError, NotFound
from webapp.core.forms import read_form, show_errors
from webapp.core.htmx import render
from webapp.core.permissions import requires
from webapp.core.transaction import db_session
from webapp.identity import profile
from webapp.identity.queries import get_user
from webapp.identity.service import check_current_password
from webapp.privacy import requests as privacy_requests
from webapp.privacy.enums import SubjectRequestStatus, SubjectRequestType
from webapp.privacy.forms import AccessRequestForm, DeletionRequestForm

bp = Blueprint("privacy_requests", __name__)


def _settings():
    return current_app.extensions["closedloop"]["settings"]


async def request_section(session, user_id, *, access_form=None, deletion_form=None) -> dict:
    """What the privacy page shows about requests: the user's requests with their steps, and the two forms."""
    mine = await privacy_requests.list_own(session, user_id)
    return {
        "requests": mine,
        "steps": await privacy_requests.steps_of(session, [r.id for r in mine]),
        "access_form": access_form or AccessRequestForm(),
        "deletion_form": deletion_form or DeletionRequestForm(),
        "now": datetime.now(UTC),
    }


async def _page_with(status: int, **forms):
    from webapp.privacy.views import render_privacy_page

    return await render_privacy_page(status=status, **forms)


@bp.post("/me/privacy/requests/access")
@requires()
async def request_access():
    """Ask for a copy of your data; your password proves it is you, so a worker starts on it at once."""
    session = db_session()
    form = await read_form(AccessRequestForm)
    if not form.validate():
        return await _page_with(422, access_form=form)
    user = await get_user(session, g.ctx.user_id, lock=True)
    try:
        await check_current_password(user, form.current_password.data, field="current_password")
        await privacy_requests.submit(
            session, g.ctx, user_id=user.id, email=user.email, request_type=SubjectRequestType.ACCESS,
            reauthenticated=True,
        )  # fmt: skip
    except DomainError as exc:
        show_errors(form, exc)
        return await _page_with(
            exc.status_code, access_form=form, error=exc.message if exc.status_code == 409 else None
        )
    await flash("Export requested. We email you a download link when it is ready — usually within minutes.", "success")
    return redirect(url_for("privacy.privacy_page") + "#requests-h", 303)


@bp.post("/me/privacy/requests/deletion")
@requires()
async def request_deletion():
    """Ask for erasure: the account stops at once (as deactivation does) and a worker erases it."""
    session = db_session()
    form = await read_form(DeletionRequestForm)
    if not form.validate():
        return await _page_with(422, deletion_form=form)
    user = await get_user(session, g.ctx.user_id, lock=True)
    try:
        await profile.deactivate_account(
            session, g.ctx, user, current_password=form.current_password.data, reason=form.reason.data
        )
    except Conflict as exc:
        return await _page_with(409, deletion_form=form, error=exc.message)
    except DomainError as exc:
        show_errors(form, exc)
        return await _page_with(exc.status_code, deletion_form=form)
    logout_user()
    await flash("Your account has ended and you are signed out everywhere. Your personal data is being erased.", "info")
    return redirect(url_for("identity.login"), 303)


@bp.post("/me/privacy/requests/<uuid:request_id>/cancel")
@requires()
async def cancel(request_id: uuid.UUID):
    """Withdraw a request no worker has started."""
    session = db_session()
    found = await privacy_requests.get_own(session, g.ctx.user_id, request_id)
    try:
        await privacy_requests.cancel(session, g.ctx, found)
    except Conflict as exc:
        return await _page_with(409, error=exc.message)
    await flash("Request canceled.", "success")
    return redirect(url_for("privacy.privacy_page") + "#requests-h", 303)


@bp.get("/me/privacy/requests/<uuid:request_id>/confirm")
@requires()
async def confirm_page(request_id: uuid.UUID):
    """The emailed link lands here; confirming is a button (mail scanners follow links, they do not press buttons)."""
    session = db_session()
    found = await privacy_requests.get_own(session, g.ctx.user_id, request_id)
    token = request.args.get("token", "")
    privacy_requests.check_verification_token(_settings().secret_key, token, found.id)
    return await render("privacy/confirm_request.html", found=found, token=token)


@bp.post("/me/privacy/requests/<uuid:request_id>/confirm")
@requires()
async def confirm(request_id: uuid.UUID):
    """Confirm a request made over the API: identity verified, a worker takes it (erasure stops the account now)."""
    session = db_session()
    found = await privacy_requests.get_own(session, g.ctx.user_id, request_id)
    privacy_requests.check_verification_token(_settings().secret_key, (await request.form).get("token", ""), found.id)
    if found.status != SubjectRequestStatus.RECEIVED:
        await flash(f"This request is already {found.status.label.lower()}.", "info")
        return redirect(url_for("privacy.privacy_page") + "#requests-h", 303)
    if found.request_type == SubjectRequestType.DELETION:
        user = await get_user(session, g.ctx.user_id, lock=True)
        await profile.stop_account(session, g.ctx, user, found)
        logout_user()
        await flash("Confirmed. Your account has ended and your personal data is being erased.", "info")
        return redirect(url_for("identity.login"), 303)
    await privacy_requests.verify(session, found, method="email_link", actor_id=g.ctx.user_id)
    await flash("Confirmed. We email you a download link when your export is ready.", "success")
    return redirect(url_for("privacy.privacy_page") + "#requests-h", 303)


@bp.get("/me/privacy/requests/<uuid:request_id>/archive")
@requires()
async def archive(request_id: uuid.UUID):
    """Download a finished export (yours only, for seven days) through a short-lived link to the object store."""
    session = db_session()
    found = await privacy_requests.get_own(session, g.ctx.user_id, request_id)
    if found.archive_key is None or found.archive_expires_at is None or found.archive_expires_at < datetime.now(UTC):
        raise NotFound("This export is not available: it is not ready yet, or its week has passed.")
    url = store_for(_settings()).download_url(
        found.archive_key, filename=f"closedloop-data-{found.requested_at:%Y-%m-%d}.zip",
        content_type="application/zip", inline=False, seconds=300,
    )  # fmt: skip
    return redirect(url, 303)
