"""/me/sessions lists your live sessions only; you can end one, or all but the current one."""

from __future__ import annotations

import re

from tests.conftest import csrf_from
from tests.helpers import login


def _session_ids(body: str) -> list[str]:
    return re.findall(r"/me/sessions/([0-9a-f-]{36})/revoke", body)


async def test_list_and_end_one_then_all_others(app, factory, count_rows):
    member = await factory.org_with_owner()
    stranger = await factory.org_with_owner()
    phone, laptop, tablet, other = (app.test_client() for _ in range(4))
    for client in (phone, laptop, tablet):
        await login(client, member.email, member.password)
    await login(other, stranger.email, stranger.password)

    page = await (
        await laptop.get("/me/sessions", headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"})
    ).get_data(as_text=True)
    ids = _session_ids(page)
    assert len(ids) == 3 and "this session" in page
    stranger_ids = _session_ids(await (await other.get("/me/sessions")).get_data(as_text=True))
    token = csrf_from(page)

    refused = await laptop.post(f"/me/sessions/{stranger_ids[0]}/revoke", form={"csrf_token": token})
    assert refused.status_code == 404  # someone else's session looks like no session
    assert (await other.get(f"/o/{stranger.org_slug}/")).status_code == 200

    phone_page = await (await phone.get("/me/sessions")).get_data(as_text=True)
    current = re.search(
        r'/me/sessions/([0-9a-f-]{36})/revoke"[^>]*>\s*<input[^>]*>\s*<button[^>]*>Sign out here', phone_page
    )
    phone_id = current.group(1) if current else None
    assert phone_id in ids
    ended = await laptop.post(f"/me/sessions/{phone_id}/revoke", form={"csrf_token": token})
    assert ended.status_code == 303
    assert (await phone.get(f"/o/{member.org_slug}/")).status_code == 302

    others = await laptop.post("/me/sessions/revoke-others", form={"csrf_token": token})
    assert others.status_code == 303
    assert (await tablet.get(f"/o/{member.org_slug}/")).status_code == 302
    assert (await laptop.get(f"/o/{member.org_slug}/")).status_code == 200
    assert await count_rows("auth_sessions", "user_id = :u AND revoked_at IS NULL", u=member.id) == 1
