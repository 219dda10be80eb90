"""Files in the browser: the Files card of an entity page, and the routes its uploader (static/app.js) calls —
presign and complete answer JSON like the API; the bytes go straight to the store with a progress bar."""

from __future__ import annotations

import uuid

from quart import current_app, g, redirect, request

from webapp.collaboration import attachments
from webapp.collaboration.api import attachment_out, can_moderate, presign_answer
from webapp.collaboration.links import entity_url
from webapp.collaboration.queries import get_target
from webapp.collaboration.storage import store_for
from webapp.collaboration.views import THREAD, bp
from webapp.core.forms import json_object
from webapp.core.htmx import is_htmx, render, toast
from webapp.core.permissions import Perm, requires
from webapp.core.transaction import db_session


def _store():
    return store_for(current_app.extensions["closedloop"]["settings"])


async def files_context(entity_type: str, entity_id: uuid.UUID) -> dict:
    """What an entity page needs for its Files card (`{% include "collaboration/_files.html" %}`)."""
    session = db_session()
    target = await get_target(session, g.ctx, entity_type, entity_id)
    return {"files_target": target, "files": await attachments.list_for(session, g.ctx.org_id, target)}


@bp.get(THREAD.replace("/comments/", "/files/", 1))
@requires()
async def files(entity_type: str, entity_id: uuid.UUID):
    """The Files card alone (refreshed after an upload); without htmx, the entity's page at its files."""
    context = await files_context(entity_type, entity_id)
    if not is_htmx():
        target = context["files_target"]
        return redirect(entity_url(target.kind, target.entity_id, target.mission_id) + "#files", 303)
    return await render("collaboration/_files.html", **context)


@bp.post("/attachments/presign")
@requires(Perm.ATTACHMENTS_WRITE)
async def presign_file():
    """Start an upload from the page (JSON in and out, like POST /api/v1/attachments/presign)."""
    body, _ = await presign_answer(await json_object())
    return body, 201


@bp.post("/attachments/<uuid:attachment_id>/complete")
@requires(Perm.ATTACHMENTS_WRITE)
async def complete_file(attachment_id: uuid.UUID):
    """Finish an upload from the page: the server re-reads and checks it (JSON, 422 with the reason)."""
    session = db_session()
    await attachments.complete(session, g.ctx, _store(), attachment_id)
    return attachment_out(await attachments.get_attachment(session, g.ctx, attachment_id))


@bp.get("/attachments/<uuid:attachment_id>/download")
@requires()
async def download_file(attachment_id: uuid.UUID):
    """303 to a short-lived link of the bytes; `?inline=1` shows a raster image in place (thumbnails)."""
    inline = request.args.get("inline") == "1"
    url = await attachments.download_url(db_session(), g.ctx, _store(), attachment_id, inline=inline)
    return "", 303, {"Location": url, "Cache-Control": "private, max-age=240" if inline else "no-store"}


@bp.post("/attachments/<uuid:attachment_id>/delete")
@requires(Perm.ATTACHMENTS_WRITE)
async def delete_file(attachment_id: uuid.UUID):
    """Delete a file; htmx removes its row, otherwise back to where it was."""
    session = db_session()
    view = await attachments.get_attachment(session, g.ctx, attachment_id)
    await attachments.delete_attachment(session, g.ctx, attachment_id, can_moderate=can_moderate)
    if is_htmx():
        return toast(await render("collaboration/_file_gone.html", file=view), f"{view.filename} deleted.")
    target = await get_target(session, g.ctx, view.entity_type, view.entity_id)
    return redirect(entity_url(target.kind, target.entity_id, target.mission_id) + "#files", 303)
