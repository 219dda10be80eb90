"""Files in the browser: the page's uploader routes (presign and complete as JSON with the CSRF header, the bytes to
the store), the Files card with a thumbnail, inline images only for raster types, delete by the uploader, and a
comment carrying an uploaded image (shown in the thread and in the JSON)."""

from __future__ import annotations

import hashlib
import io

from quart.datastructures import FileStorage

from tests.collaboration.test_storage_contract import PDF, PNG
from tests.helpers import api_key_headers, login
from tests.missions.test_missions_api import MISSION


async def _upload_from_page(client, slug: str, token: str, data: bytes, mime: str, name: str, **entity) -> dict:
    headers = {"X-CSRF-Token": token}
    body = {"filename": name, "mime_type": mime, "size": len(data), "checksum_sha256": hashlib.sha256(data).hexdigest()}
    presigned = await client.post(f"/o/{slug}/attachments/presign", headers=headers, json=body | entity)
    answer = await presigned.get_json()
    assert presigned.status_code == 201, answer
    if answer["upload"]:
        sent = await client.post(
            answer["upload"]["url"],
            form=answer["upload"]["fields"],
            files={"file": FileStorage(io.BytesIO(data), filename=name)},
        )
        assert sent.status_code == 204
    done = await client.post(f"/o/{slug}/attachments/{answer['attachment']['id']}/complete", headers=headers, json={})
    assert done.status_code == 200, await done.get_json()
    return await done.get_json()


async def test_files_card_thumbnails_and_comment_attachments(app, client, factory):
    owner = await factory.org_with_owner()
    auth = await api_key_headers(app.test_client(), owner, ["missions:read", "missions:write"])
    mission = await (
        await client.post(f"/api/v1/organizations/{owner.org_id}/missions", headers=auth, json=MISSION)
    ).get_json()
    token = await login(client, owner.email, owner.password)
    slug, entity = owner.org_slug, {"entity_type": "missions", "entity_id": mission["id"]}
    page = await (await client.get(f"/o/{slug}/missions/{mission['id']}")).get_data(as_text=True)
    assert 'id="files"' in page and "data-uploader" in page and "No files yet" in page

    photo = await _upload_from_page(client, slug, token, PNG, "image/png", "filter.png", **entity)
    manual = await _upload_from_page(client, slug, token, PDF, "application/pdf", "manual.pdf", **entity)
    card = await client.get(f"/o/{slug}/files/missions/{mission['id']}", headers={"HX-Request": "true"})
    html = await card.get_data(as_text=True)
    assert f"/attachments/{photo['id']}/download?inline=1" in html and 'alt="filter.png"' in html
    assert "manual.pdf" in html and f"/attachments/{manual['id']}/download?inline=1" not in html
    inline = await client.get(f"/o/{slug}/attachments/{photo['id']}/download?inline=1")
    served = await client.get(inline.headers["Location"])
    assert inline.status_code == 303 and served.headers["Content-Disposition"].startswith("inline;")
    assert served.headers["Content-Type"] == "image/png" and await served.get_data() == PNG
    pdf = await client.get(f"/o/{slug}/attachments/{manual['id']}/download?inline=1")
    assert (await client.get(pdf.headers["Location"])).headers["Content-Disposition"].startswith("attachment;")

    # a bad presign says why, in JSON
    refused = await client.post(
        f"/o/{slug}/attachments/presign",
        headers={"X-CSRF-Token": token},
        json={"filename": "run.exe", "mime_type": "application/x-msdownload", "size": 10, "checksum_sha256": "0" * 64},
    )
    assert refused.status_code == 422 and "mime_type" in (await refused.get_json())["details"]["fields"]

    # a comment carries an image uploaded without an entity
    shot = await _upload_from_page(client, slug, token, PNG + b"\x00", "image/png", "shot.png")
    posted = await client.post(
        f"/o/{slug}/comments/missions/{mission['id']}",
        form={"csrf_token": token, "content": "See the photo", "attachments": shot["id"]},
    )
    assert posted.status_code == 303
    html = await (await client.get(f"/o/{slug}/missions/{mission['id']}")).get_data(as_text=True)
    thread = html.split('id="discussion"', 1)[1]
    assert "See the photo" in thread and f"/attachments/{shot['id']}/download?inline=1" in thread
    api = await api_key_headers(app.test_client(), owner, ["missions:read"])
    comments = await (await client.get(f"/api/v1/missions/{mission['id']}/comments", headers=api)).get_json()
    assert [a["filename"] for a in comments["items"][0]["attachments"]] == ["shot.png"]
    again = await client.post(
        f"/o/{slug}/comments/missions/{mission['id']}",
        form={"csrf_token": token, "content": "Reuse", "attachments": shot["id"]},
    )
    assert again.status_code == 422  # a file belongs to one comment
    assert "Attach only your own finished uploads" in await again.get_data(as_text=True)

    deleted = await client.post(
        f"/o/{slug}/attachments/{manual['id']}/delete", headers={"HX-Request": "true", "X-CSRF-Token": token}
    )
    assert deleted.status_code == 200 and "manual.pdf deleted." in deleted.headers["HX-Trigger"]
    card = await (
        await client.get(f"/o/{slug}/files/missions/{mission['id']}", headers={"HX-Request": "true"})
    ).get_data(as_text=True)
    assert "manual.pdf" not in card and "filter.png" in card
