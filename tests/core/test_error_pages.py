"""Error pages keep the signed-in frame, say something useful once, and a 403 names the permission and whom to ask."""

from __future__ import annotations

from tests.helpers import login
from webapp.core.permissions import SystemRole


async def test_404_keeps_the_signed_in_header_and_says_it_once(client, factory):
    member = await factory.org_with_owner(name="Jezero Outpost")
    await login(client, member.email, member.password)
    for path in (f"/o/{member.org_slug}/no-such-page", "/no-such-page"):
        response = await client.get(path)
        body = await response.get_data(as_text=True)
        assert response.status_code == 404
        assert "Account: </span>" in body and member.email in body, path  # the header knows who is signed in
        assert body.count("There is nothing at this address") == 1 and "Not found. Not found." not in body
    inside = await (await client.get(f"/o/{member.org_slug}/no-such-page")).get_data(as_text=True)
    assert f'href="/o/{member.org_slug}/missions"' in inside and "Back to Jezero Outpost" in inside


async def test_unsupported_methods_are_405_with_allow(client, factory):
    member = await factory.org_with_owner()
    await login(client, member.email, member.password)
    for method, path, allowed in (
        ("TRACE", "/login", {"GET", "HEAD", "OPTIONS", "POST"}),
        ("PUT", f"/o/{member.org_slug}/missions", {"GET", "HEAD", "OPTIONS", "POST"}),
        ("TRACE", f"/api/v1/organizations/{member.org_id}/missions", {"GET", "HEAD", "OPTIONS", "POST"}),
        ("PUT", "/api/v1/me", {"GET", "HEAD", "OPTIONS", "PATCH", "DELETE"}),
    ):
        response = await client.open(path, method=method)
        assert response.status_code == 405, (method, path)
        assert set(response.headers["Allow"].split(", ")) == allowed, (method, path)
        if path.startswith("/api/"):
            body = await response.get_json()
            assert body["error"] == "MethodNotAllowed" and method in body["message"]
        else:
            assert "Account: </span>" in await response.get_data(as_text=True)


async def test_403_names_the_missing_permission_and_whom_to_ask(client, factory):
    owner = await factory.org_with_owner(name="Jezero Outpost")
    viewer = await factory.member(owner, role=SystemRole.VIEWER)
    await login(client, viewer.email, viewer.password)
    response = await client.get(f"/o/{owner.org_slug}/missions/new")
    body = await response.get_data(as_text=True)
    assert response.status_code == 403
    assert "<code>missions:write</code>" in body and "Create, edit, delete and restore missions" in body
    assert f'href="mailto:{owner.email}"' in body and "(owner)" in body
    assert "Account: </span>" in body
    fragment = await client.get(f"/o/{owner.org_slug}/missions/new", headers={"HX-Request": "true"})
    assert "missions:write" in await fragment.get_data(as_text=True)


async def test_favicon_is_served(client):
    response = await client.get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")
    assert (await response.get_data())[:4] == b"\x00\x00\x01\x00"
