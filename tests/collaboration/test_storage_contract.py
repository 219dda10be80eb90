"""The attachment protocol on both real stores — the local disk and an S3-protocol server (moto's server mode, on
127.0.0.1): presign -> upload straight to the store -> complete -> download; the same bytes twice are stored once;
wrong checksum, wrong size, a spoofed type are refused at `complete` with the object deleted; an expired or replayed
upload link is refused by the store itself.

moto does not evaluate POST policies (it stores whatever is posted), so for S3 the test reads the signed policy and
checks that it pins key, exact length, type, checksum and expiry — what AWS S3, MinIO or R2 then enforce — and
relies on `complete` re-reading the object for everything else."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import secrets
import socket
import uuid

import httpx
import pytest
from quart.datastructures import FileStorage
from sqlalchemy import text

from tests.helpers import api_key_headers
from tests.missions.test_missions_api import MISSION

# the smallest valid PNG (1x1) and a PDF header: what the type sniffer looks at
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
KEYS = ["missions:read", "missions:write", "attachments:write", "comments:write"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    """A real S3-protocol server on 127.0.0.1 (moto's server mode) with one bucket."""
    import os

    import boto3
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "closedloop-test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "closedloop-test-secret")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    bucket = f"closedloop-{secrets.token_hex(3)}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    yield f"s3://{bucket}?endpoint={endpoint}&region=us-east-1"
    server.stop()


@pytest.fixture(params=["local", "s3"])
async def backend(request, settings):
    """An app on each store: the suite's local one, and one on the S3 server."""
    if request.param == "local":
        app = request.getfixturevalue("app")
        yield app
        return
    from webapp import create_app

    url = request.getfixturevalue("s3_server")
    app = create_app(settings.with_overrides(object_store_url=url))
    async with app.test_app():
        yield app


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def _upload(app, upload: dict, data: bytes, *, filename: str = "file.bin") -> int:
    """Send the bytes the way a browser does: the fields as given, then the file last."""
    if upload["url"].startswith("/"):  # the local store: this app's own upload route
        response = await app.test_client().post(
            upload["url"],
            form=upload["fields"],
            files={"file": FileStorage(io.BytesIO(data), filename=filename, content_type="application/octet-stream")},
        )
        return response.status_code
    async with httpx.AsyncClient() as http:
        response = await http.post(upload["url"], data=upload["fields"], files={"file": (filename, data)})
        return response.status_code


async def _download(app, location: str) -> tuple[int, dict, bytes]:
    if location.startswith("/"):
        response = await app.test_client().get(location)
        return response.status_code, dict(response.headers), await response.get_data()
    async with httpx.AsyncClient() as http:
        response = await http.get(location)
        return response.status_code, dict(response.headers), response.content


async def _exists(app, key: str) -> bool:
    from webapp.collaboration.storage import store_for

    return await store_for(app.extensions["closedloop"]["settings"]).exists(key)


async def test_presign_upload_complete_download_and_dedupe(backend, factory, owner_engine):
    app = backend
    owner = await factory.org_with_owner()
    auth = await api_key_headers(app.test_client(), owner, KEYS)
    api = app.test_client()
    mission = await (
        await api.post(f"/api/v1/organizations/{owner.org_id}/missions", headers=auth, json=MISSION)
    ).get_json()
    body = {
        "filename": "../../etc/dryer photo.png",
        "mime_type": "image/png",
        "size": len(PNG),
        "checksum_sha256": _sha(PNG),
        "entity_type": "missions",
        "entity_id": mission["id"],
    }
    presigned = await api.post("/api/v1/attachments/presign", headers=auth, json=body)
    answer = await presigned.get_json()
    assert presigned.status_code == 201, answer
    attachment, upload = answer["attachment"], answer["upload"]
    assert attachment["status"] == "pending" and attachment["filename"] == "dryer photo.png"
    assert presigned.headers["Location"] == f"/api/v1/attachments/{attachment['id']}"
    assert await _upload(app, upload, PNG) in (200, 201, 204)

    done = await api.post("/api/v1/attachments/complete", headers=auth, json={"attachment_id": attachment["id"]})
    ready = await done.get_json()
    assert done.status_code == 200, ready
    assert ready["status"] == "ready" and ready["content_type"] == "image/png"
    listed = await (await api.get(f"/api/v1/missions/{mission['id']}/attachments", headers=auth)).get_json()
    assert [a["id"] for a in listed["items"]] == [attachment["id"]]

    link = await api.get(ready["download_url"], headers=auth)
    assert link.status_code == 303
    status, headers, data = await _download(app, link.headers["Location"])
    lowered = {k.lower(): v for k, v in headers.items()}
    assert status == 200 and data == PNG
    assert (
        lowered["content-disposition"].startswith("attachment;")
        and "dryer%20photo.png" in lowered["content-disposition"]
    )
    if app.extensions["closedloop"]["settings"].object_store_url.startswith("file:"):
        assert lowered["x-content-type-options"] == "nosniff"

    # the same bytes again: nothing to upload, one stored object
    again = await (await api.post("/api/v1/attachments/presign", headers=auth, json=body)).get_json()
    assert again["upload"] is None
    second = await api.post(
        "/api/v1/attachments/complete", headers=auth, json={"attachment_id": again["attachment"]["id"]}
    )
    assert second.status_code == 200 and (await second.get_json())["status"] == "ready"
    async with owner_engine.connect() as conn:
        stored = (
            await conn.execute(
                text("SELECT count(*) FROM stored_objects WHERE organization_id = :o"), {"o": owner.org_id}
            )
        ).scalar_one()
    assert stored == 1

    # deleting one keeps the bytes for the other; another organization sees neither
    assert (await api.delete(f"/api/v1/attachments/{attachment['id']}", headers=auth)).status_code == 204
    assert (await api.get(ready["download_url"], headers=auth)).status_code == 404
    assert (await api.get(f"/api/v1/attachments/{again['attachment']['id']}/download", headers=auth)).status_code == 303
    other = await factory.org_with_owner()
    their = await api_key_headers(app.test_client(), other, KEYS)
    assert (await api.get(f"/api/v1/attachments/{again['attachment']['id']}", headers=their)).status_code == 404
    assert (await api.get(f"/api/v1/missions/{mission['id']}/attachments", headers=their)).status_code == 404
    bad = await api.post("/api/v1/attachments/presign", headers=their, json=body)
    assert bad.status_code == 404  # the mission is not theirs


@pytest.mark.parametrize(
    "case",
    ["wrong checksum", "wrong size", "spoofed type", "never uploaded"],
)
async def test_a_bad_upload_is_refused_and_nothing_is_kept(backend, factory, owner_engine, case):
    app = backend
    owner = await factory.org_with_owner()
    auth = await api_key_headers(app.test_client(), owner, KEYS)
    api = app.test_client()
    declared, sent, mime = PNG, PNG, "image/png"
    if case == "wrong checksum":
        declared = PNG[:-1] + b"\x01"  # same size, other bytes
    elif case == "wrong size":
        sent = PNG + b"\x00"
    elif case == "spoofed type":
        declared = sent = PDF  # a PDF that says it is a PNG
    body = {"filename": "x.png", "mime_type": mime, "size": len(declared), "checksum_sha256": _sha(declared)}
    answer = await (await api.post("/api/v1/attachments/presign", headers=auth, json=body)).get_json()
    upload, attachment_id = answer["upload"], answer["attachment"]["id"]
    key = f"t/{owner.org_id}/sha256/{_sha(declared)}"
    if case != "never uploaded":
        status = await _upload(app, upload, sent)
        local = upload["url"].startswith("/")
        if local and case in ("wrong checksum", "wrong size"):
            assert status == 400  # the local store checks what its signature pins, as S3 does
    done = await api.post("/api/v1/attachments/complete", headers=auth, json={"attachment_id": attachment_id})
    problem = await done.get_json()
    assert done.status_code == 422, problem
    assert "file" in problem["details"]["fields"]
    if case == "spoofed type":
        assert "PDF, not a PNG image" in problem["message"]
    assert not await _exists(app, key)
    async with owner_engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT (SELECT count(*) FROM stored_objects WHERE organization_id = :o), status "
                "FROM attachments WHERE id = :a"
            ),
            {"o": owner.org_id, "a": attachment_id},
        )
        stored, status = rows.one()
    assert stored == 0 and status == "pending"
    assert (await api.get(f"/api/v1/attachments/{attachment_id}/download", headers=auth)).status_code == 404


async def test_upload_links_are_bound_to_key_size_type_checksum_and_time(backend, factory, settings):
    app = backend
    from webapp.collaboration.storage import store_for

    store = store_for(app.extensions["closedloop"]["settings"])
    key = f"t/{uuid.uuid4()}/sha256/{_sha(PNG)}"
    upload = store.presign_upload(key, size=len(PNG), content_type="image/png", sha256=_sha(PNG), seconds=1)
    if store.name == "s3":
        policy = json.loads(base64.b64decode(upload.fields["policy"]))
        conditions = policy["conditions"]
        assert ["eq", "$key", key] in conditions and ["content-length-range", len(PNG), len(PNG)] in conditions
        assert {"Content-Type": "image/png"} in conditions
        assert {"x-amz-checksum-sha256": base64.b64encode(bytes.fromhex(_sha(PNG))).decode()} in conditions
        assert policy["expiration"]  # S3 refuses the POST after it
        return
    fields = {"url": upload.url, "fields": upload.fields}
    # replayed for other bytes (another key's content), or with another declared type: refused, nothing kept
    assert await _upload(app, fields, PDF) == 400
    tampered = {"url": upload.url, "fields": upload.fields | {"Content-Type": "application/pdf"}}
    assert await _upload(app, tampered, PNG) == 403
    token = upload.fields["token"]  # one signature character changed (not the last: its low bits may not count)
    wrong = token[:-8] + ("A" if token[-8] != "A" else "B") + token[-7:]
    forged = {"url": upload.url, "fields": upload.fields | {"token": wrong}}
    assert await _upload(app, forged, PNG) == 403
    assert not await store.exists(key)
    await asyncio.sleep(2.2)  # the link was signed for one second
    assert await _upload(app, fields, PNG) == 403
    assert not await store.exists(key)
    # a download link dies the same way
    link = store.download_url(key, filename="x.png", content_type="image/png", inline=False, seconds=1)
    await asyncio.sleep(2.2)
    assert (await app.test_client().get(link)).status_code == 403


async def test_the_collector_removes_expired_uploads_and_unused_bytes(app, factory, maker, owner_engine):
    from webapp.collaboration import attachments
    from webapp.collaboration.storage import store_for

    store = store_for(app.extensions["closedloop"]["settings"])
    owner = await factory.org_with_owner()
    auth = await api_key_headers(app.test_client(), owner, KEYS)
    api = app.test_client()
    kept, dropped, stray = PNG, PNG + b"\x00" * 7, PDF

    async def uploaded(data: bytes, mime: str) -> str:
        body = {"filename": "f", "mime_type": mime, "size": len(data), "checksum_sha256": _sha(data)}
        answer = await (await api.post("/api/v1/attachments/presign", headers=auth, json=body)).get_json()
        await _upload(app, answer["upload"], data)
        return answer["attachment"]["id"]

    keep_id = await uploaded(kept, "image/png")
    drop_id = await uploaded(dropped, "image/png")
    stray_id = await uploaded(stray, "application/pdf")  # uploaded, never completed
    for attachment_id in (keep_id, drop_id):
        assert (
            await api.post("/api/v1/attachments/complete", headers=auth, json={"attachment_id": attachment_id})
        ).status_code == 200
    assert (await api.delete(f"/api/v1/attachments/{drop_id}", headers=auth)).status_code == 204
    async with owner_engine.begin() as conn:  # time passes: the upload expires, the unused object's grace ends
        await conn.execute(
            text("UPDATE attachments SET expires_at = now() - interval '1 minute' WHERE id = :a"), {"a": stray_id}
        )
        await conn.execute(
            text(
                "UPDATE stored_objects SET unreferenced_since = now() - interval '2 days' "
                "WHERE organization_id = :o AND checksum_sha256 = :c"
            ),
            {"o": owner.org_id, "c": _sha(dropped)},
        )
    counts = await attachments.collect(maker, store)
    assert counts["expired_uploads"] >= 1 and counts["objects_deleted"] >= 1
    key = lambda data: f"t/{owner.org_id}/sha256/{_sha(data)}"  # noqa: E731
    assert await store.exists(key(kept))
    assert not await store.exists(key(dropped)) and not await store.exists(key(stray))
    async with owner_engine.connect() as conn:
        left = (
            (
                await conn.execute(
                    text("SELECT checksum_sha256 FROM stored_objects WHERE organization_id = :o"), {"o": owner.org_id}
                )
            )
            .scalars()
            .all()
        )
        pending = (
            await conn.execute(text("SELECT count(*) FROM attachments WHERE id = :a"), {"a": stray_id})
        ).scalar_one()
    assert left == [_sha(kept)] and pending == 0
    assert (await api.get(f"/api/v1/attachments/{keep_id}/download", headers=auth)).status_code == 303


async def test_a_file_larger_than_the_general_body_limit_uploads(backend, factory, settings):
    app = backend
    owner = await factory.org_with_owner()
    auth = await api_key_headers(app.test_client(), owner, KEYS)
    api = app.test_client()
    data = PDF + b"\n%" + b"x" * (settings.max_body_bytes * 3)  # three times what any other request may carry
    body = {"filename": "manual.pdf", "mime_type": "application/pdf", "size": len(data), "checksum_sha256": _sha(data)}
    answer = await (await api.post("/api/v1/attachments/presign", headers=auth, json=body)).get_json()
    assert await _upload(app, answer["upload"], data) in (200, 201, 204)
    done = await api.post(
        "/api/v1/attachments/complete", headers=auth, json={"attachment_id": answer["attachment"]["id"]}
    )
    assert done.status_code == 200 and (await done.get_json())["size"] == len(data)
