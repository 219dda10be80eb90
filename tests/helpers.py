"""Small helpers shared by tests."""
from __future__ import annotations

from tests.conftest import csrf_from


async def login(client, email: str, password: str) -> str:
    """Sign in through the real form; returns the CSRF token for later posts."""
    page = await client.get("/login")
    token = csrf_from(await page.get_data(as_text=True))
    response = await client.post("/login", form={"csrf_token": token, "email": email, "password": password})
    assert response.status_code == 303, await response.get_data(as_text=True)
    return token
