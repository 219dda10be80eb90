"""The development outbox: every email the product queued, readable without an SMTP server."""

from __future__ import annotations

from quart import Blueprint, current_app

from webapp.core.errors import NotFound
from webapp.core.htmx import render
from webapp.core.ids import parse_id
from webapp.core.permissions import public
from webapp.core.transaction import db_session
from webapp.mail import queries

bp = Blueprint("mail", __name__, url_prefix="/dev/outbox")


def _dev_only() -> None:
    # only on a developer's machine: the outbox holds live sign-in links
    if current_app.extensions["closedloop"]["settings"].environment != "development":
        raise NotFound()


@bp.get("/")
@public
async def outbox():
    """The latest emails, newest first."""
    _dev_only()
    return await render("mail/outbox.html", emails=await queries.list_recent(db_session()))


@bp.get("/<email_id>")
@public
async def outbox_email(email_id: str):
    """One email: headers, plain text with clickable links, and the HTML part's source."""
    _dev_only()
    email_uuid = parse_id(email_id)
    if email_uuid is None:
        raise NotFound("No such email.")
    return await render("mail/email.html", email=await queries.get_email(db_session(), email_uuid))
