"""`next` sends a browser only to a same-origin path: a table of hostile values lands on the home page instead,
and none of them is a server error (CR/LF used to be a 500)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.conftest import csrf_from
from webapp.core.redirects import safe_next, same_site_referrer

HOSTILE = [
    "//evil.example/",
    "///evil.example",
    "/\t/evil.example",
    "/\\evil.example",
    "/\\/evil.example",
    "\\\\evil.example",
    "/\n/evil.example",
    "/\r\nSet-Cookie: a=b",
    "/\x0b/evil.example",
    "/\x00/evil.example",
    "/\x7f",
    "https://evil.example/",
    "http:/evil.example",
    "javascript:alert(1)",
    "evil.example",
    " /x",
    "/\u3000/evil.example",
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_targets_are_refused(value):
    assert safe_next(value) is None


def test_plain_paths_pass():
    # percent escapes stay escaped in a Location header: the browser reads them as part of our path
    for value in (
        "/",
        "/o/acme/missions",
        "/o/acme/missions?status=active&q=mars",
        "/o/acme#top",
        "/%2F%2Fstays-a-path",
        "/%09/stays-a-path",
    ):
        assert safe_next(value) == value


def test_referrer_only_from_this_host():
    assert same_site_referrer("http://app.test/o/acme?x=1", "app.test") == "/o/acme?x=1"
    assert same_site_referrer("http://evil.example/o/acme", "app.test") is None
    assert same_site_referrer("javascript://app.test/%0aalert(1)", "app.test") is None


async def test_sign_in_never_redirects_off_site(client, factory):
    member = await factory.org_with_owner()
    nul = "/\x00/evil.example"  # refused at the edge: PostgreSQL could not store it anywhere
    assert (await client.get("/login?" + urlencode({"next": nul}))).status_code == 400
    for value in [v for v in HOSTILE if v != nul]:
        page = await client.get("/login?" + urlencode({"next": value}))
        assert page.status_code == 200, repr(value)
        token = csrf_from(await page.get_data(as_text=True))
        response = await client.post(
            "/login", form={"csrf_token": token, "email": member.email, "password": member.password, "next": value}
        )
        assert response.status_code == 303, (repr(value), response.status_code)
        assert response.headers["Location"] == "/", repr(value)
        signed_in = await client.get("/login?" + urlencode({"next": value}))  # already signed in: straight on
        assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/", repr(value)
        fresh = csrf_from(await (await client.get("/me")).get_data(as_text=True))  # sign-in rotated the seed
        assert (await client.post("/logout", form={"csrf_token": fresh})).status_code == 303
    for raw in ("/%09/evil.example", "/%5C/evil.example", "/%0D%0ALocation:%20//evil.example", "%2F%2Fevil.example"):
        page = await client.get(f"/login?next={raw}")  # the query string as the probe sent it
        assert page.status_code == 200 and "evil.example" not in await page.get_data(as_text=True), raw
    page = await client.get("/login?next=/o/x/missions%3Fq%3Dmars")
    token = csrf_from(await page.get_data(as_text=True))
    response = await client.post(
        "/login",
        form={"csrf_token": token, "email": member.email, "password": member.password, "next": "/o/x/missions?q=mars"},
    )
    assert response.headers["Location"] == "/o/x/missions?q=mars"
