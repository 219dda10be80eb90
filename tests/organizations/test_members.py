"""Members: inline role change (with the stale-row conflict), the owner rules, removal and what ends with it."""

from __future__ import annotations

import re

from sqlalchemy import text

from tests.helpers import login
from webapp.core.permissions import SystemRole


async def _role_id(owner_engine, org_id, key: str) -> str:
    async with owner_engine.connect() as conn:
        return str(
            (
                await conn.execute(
                    text("SELECT id FROM roles WHERE organization_id = :o AND key = :k"), {"o": org_id, "k": key}
                )
            ).scalar_one()
        )


async def _version(owner_engine, org_id, user_id) -> int:
    async with owner_engine.connect() as conn:
        return (
            await conn.execute(
                text(
                    "SELECT version FROM memberships WHERE organization_id = :o AND user_id = :u AND deleted_at IS NULL"
                ),
                {"o": org_id, "u": user_id},
            )
        ).scalar_one()


async def test_members_page_changes_a_role_inline_and_a_stale_row_shows_the_conflict(
    client, factory, owner_engine, count_rows
):
    owner = await factory.org_with_owner()
    crew = await factory.member(owner)
    token = await login(client, owner.email, owner.password)
    page = await client.get(f"/o/{owner.org_slug}/members")
    body = await page.get_data(as_text=True)
    assert page.status_code == 200 and crew.email in body and f'id="member-{crew.id}"' in body

    analyst = await _role_id(owner_engine, owner.org_id, "analyst")
    version = await _version(owner_engine, owner.org_id, crew.id)
    url = f"/o/{owner.org_slug}/members/{crew.id}/role"
    response = await client.post(
        url, form={"csrf_token": token, "role_id": analyst, "version": str(version)}, headers={"HX-Request": "true"}
    )
    row = await response.get_data(as_text=True)
    assert response.status_code == 200 and row.lstrip().startswith(f'<tr id="member-{crew.id}"')
    assert f'value="{analyst}" selected' in row
    assert await count_rows("audit_logs", "action = 'membership.role_change' AND after->>'role' = 'analyst'") >= 1

    viewer = await _role_id(owner_engine, owner.org_id, "viewer")  # the same stale version again
    response = await client.post(
        url, form={"csrf_token": token, "role_id": viewer, "version": str(version)}, headers={"HX-Request": "true"}
    )
    row = await response.get_data(as_text=True)
    assert response.status_code == 409 and "Someone changed this first" in row and "Analyst" in row
    async with owner_engine.connect() as conn:
        key = (
            await conn.execute(
                text("SELECT r.key FROM memberships m JOIN roles r ON r.id = m.role_id WHERE m.user_id = :u"),
                {"u": crew.id},
            )
        ).scalar_one()
    assert key == "analyst"  # the stale change did not land


async def test_the_last_owner_stays_and_only_owners_make_owners(client, factory, owner_engine):
    owner = await factory.org_with_owner()
    admin = await factory.member(owner, role=SystemRole.ADMIN)
    owner_role = await _role_id(owner_engine, owner.org_id, "owner")
    viewer = await _role_id(owner_engine, owner.org_id, "viewer")

    token = await login(client, admin.email, admin.password)
    promote = await client.post(
        f"/o/{owner.org_slug}/members/{admin.id}/role",
        form={"csrf_token": token, "role_id": owner_role, "version": "1"},
    )
    assert promote.status_code == 403  # an admin cannot make an owner, not even themselves
    demote = await client.post(
        f"/o/{owner.org_slug}/members/{owner.id}/role", form={"csrf_token": token, "role_id": viewer, "version": "1"}
    )
    assert demote.status_code == 403
    await client.post("/logout", form={"csrf_token": token})

    token = await login(client, owner.email, owner.password)
    alone = await client.post(
        f"/o/{owner.org_slug}/members/{owner.id}/role",
        form={
            "csrf_token": token,
            "role_id": viewer,
            "version": str(await _version(owner_engine, owner.org_id, owner.id)),
        },
    )
    assert alone.status_code == 409 and "at least one owner" in await alone.get_data(as_text=True)
    leave = await client.post(f"/o/{owner.org_slug}/members/{owner.id}/remove", form={"csrf_token": token})
    assert leave.status_code == 409


async def test_removing_a_member_ends_their_access_assignments_and_keys(client, app, factory, owner_engine, count_rows):
    owner = await factory.org_with_owner()
    crew = await factory.member(owner)
    crew_client = app.test_client()
    crew_token = await login(crew_client, crew.email, crew.password)
    created = await crew_client.post(
        f"/o/{owner.org_slug}/api-keys",
        form={"csrf_token": crew_token, "name": "script", "permissions": "ops:read", "expires_in": "30"},
    )
    assert created.status_code == 303
    body = await (await crew_client.get(created.headers["Location"])).get_data(as_text=True)
    raw = re.search(r'id="new-key-value"[^>]*value="([^"]+)"', body).group(1)

    token = await login(client, owner.email, owner.password)
    removed = await client.post(f"/o/{owner.org_slug}/members/{crew.id}/remove", form={"csrf_token": token})
    assert removed.status_code == 303
    assert (await crew_client.get(f"/o/{owner.org_slug}/")).status_code == 404  # like any stranger
    api = await app.test_client().get(
        f"/api/v1/organizations/{owner.org_id}/system-checks", headers={"Authorization": f"Bearer {raw}"}
    )
    assert api.status_code == 401
    assert await count_rows("api_keys", "user_id = :u AND deleted_at IS NULL", u=crew.id) == 0
    assert (
        await count_rows("audit_logs", "action = 'membership.remove' AND before->>'user_id' = :u", u=str(crew.id)) == 1
    )


async def test_members_of_another_organization_are_404(client, factory, owner_engine):
    mine = await factory.org_with_owner()
    other = await factory.org_with_owner()
    stranger = await factory.member(other)
    token = await login(client, mine.email, mine.password)
    viewer = await _role_id(owner_engine, mine.org_id, "viewer")
    for path in (f"/o/{mine.org_slug}/members/{stranger.id}/role", f"/o/{mine.org_slug}/members/{stranger.id}/remove"):
        response = await client.post(path, form={"csrf_token": token, "role_id": viewer, "version": "1"})
        assert response.status_code == 404, path
    assert (await client.get(f"/o/{other.org_slug}/members")).status_code == 404
