"""Small helpers shared by tests."""

from __future__ import annotations

from tests.conftest import csrf_from


async def login(client, email: str, password: str) -> str:
    """Sign in through the real form; returns the (new) CSRF token for later posts."""
    page = await client.get("/login")
    token = csrf_from(await page.get_data(as_text=True))
    response = await client.post("/login", form={"csrf_token": token, "email": email, "password": password})
    assert response.status_code == 303, await response.get_data(as_text=True)
    # sign-in rotates the CSRF seed: the token from before it no longer works
    return csrf_from(await (await client.get("/me")).get_data(as_text=True))


async def api_key_headers(client, member, permissions: list[str]) -> dict:
    """Sign in as `member`, mint an API key with `permissions`; returns its Authorization header."""
    token = await login(client, member.email, member.password)
    created = await client.post(
        f"/api/v1/organizations/{member.org_id}/api-keys",
        headers={"X-CSRF-Token": token},
        json={"name": "automation", "permissions": permissions},
    )
    assert created.status_code == 201, await created.get_json()
    return {"Authorization": f"Bearer {(await created.get_json())['key']}"}


async def token_headers(client, member) -> dict:
    """Log `member` in over JSON (`POST /api/v1/auth/login`); returns the access token's Authorization header."""
    answer = await client.post(
        "/api/v1/auth/login",
        json={"email": member.email, "password": member.password, "organization": member.org_slug},
    )
    assert answer.status_code == 201, await answer.get_json()
    return {"Authorization": f"Bearer {(await answer.get_json())['access_token']}"}


async def status_of(client, path: str) -> int:
    """The status a GET of `path` answers, without waiting for the body to end (an event stream never does)."""
    async with client.request(path, method="GET") as connection:
        await connection.send_complete()
        await connection.receive()  # the first body bytes: the status line came before them
        status = connection.status_code
        await connection.disconnect()
    return status
