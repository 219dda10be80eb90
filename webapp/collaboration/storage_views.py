"""The local store's own endpoints (what S3 is for the S3 store): a signed multipart POST receives an upload, a
signed link serves a download. Neither uses the session: the signature is the credential."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from urllib.parse import quote

from quart import Blueprint, Response, current_app, request

from webapp.collaboration.storage import CHUNK, store_for
from webapp.collaboration.storage.local import DOWNLOAD_PATH, UPLOAD_PATH, LinkError, LocalStore
from webapp.core.errors import BadRequest, Forbidden, NotFound
from webapp.core.forms import csrf_exempt
from webapp.core.permissions import public

bp = Blueprint("storage", __name__)


def _local() -> LocalStore:
    store = store_for(current_app.extensions["closedloop"]["settings"])
    if not isinstance(store, LocalStore):
        raise NotFound()  # with S3 configured these routes do not exist
    return store


@bp.post(UPLOAD_PATH)
@public
@csrf_exempt
async def upload():
    """Receive one upload: the token pins key, exact size, type and SHA-256; anything else is refused and nothing
    is kept (the file lands only after it was checked)."""
    store = _local()
    form, files = await request.form, await request.files
    try:
        allowed = store.check_upload(form.get("token", ""))
    except LinkError as exc:
        raise Forbidden(str(exc)) from exc
    sent = files.get("file")
    if sent is None:
        raise BadRequest("Send the file as the form's `file` part, after the fields.")
    if form.get("Content-Type") != allowed["type"]:
        raise Forbidden("The Content-Type field is not the one this upload was signed for.")
    handle, temp = tempfile.mkstemp(dir=_temp_dir(store))
    try:
        # off the event loop: copying, hashing and syncing 25 MiB would stall every other request for tens of ms
        size, sha256 = await asyncio.to_thread(_receive, sent.stream, handle, allowed["size"])
        if size != allowed["size"]:
            raise BadRequest(f"The file has {size} bytes; this upload is for exactly {allowed['size']}.")
        if sha256 != allowed["sha256"]:
            raise BadRequest("The file's SHA-256 is not the one this upload was signed for.")
        await store.write(allowed["key"], temp)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return "", 204


def _receive(stream, handle: int, limit: int) -> tuple[int, str]:
    """Copy the upload into the temporary file, hashing it, and sync it to disk: like an object store, the upload
    is acknowledged only once it is durable (and its write-back does not land on the next request instead)."""
    digest, size = hashlib.sha256(), 0
    with os.fdopen(handle, "wb") as out:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise BadRequest(f"The file is larger than the {limit} bytes this upload allows.")
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return size, digest.hexdigest()


def _temp_dir(store: LocalStore):
    path = store.root / ".incoming"
    path.mkdir(parents=True, exist_ok=True)
    return path


@bp.get(f"{DOWNLOAD_PATH}/<token>")
@public
async def download(token: str):
    """Serve one object under the name and type its signed link gives, never sniffed, never run."""
    store = _local()
    try:
        allowed = store.check_download(token)
    except LinkError as exc:
        raise Forbidden(str(exc)) from exc
    path = store.path_of(allowed["key"])
    if not path.is_file():
        raise NotFound("The file is gone.")
    disposition = "inline" if allowed.get("inline") else "attachment"
    ascii_name = allowed["name"].encode("ascii", "replace").decode().replace('"', "'")

    async def body():
        async for chunk in store.read(allowed["key"]):
            yield chunk

    response = Response(body(), content_type=allowed["type"])
    named = f"filename=\"{ascii_name}\"; filename*=UTF-8''{quote(allowed['name'])}"
    response.headers.update(
        {
            "Content-Disposition": f"{disposition}; {named}",
            "Content-Length": str(path.stat().st_size),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
            "Cache-Control": "private, max-age=300",
        }
    )
    return response
