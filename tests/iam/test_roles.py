"""Custom roles, the matrix page, stale edits (409 with both versions), holder caps and expiring assignments."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import text

from tests.helpers import login
from webapp.core.permissions import SystemRole


def _form(pairs) -> dict:
    return {"data": urlencode(pairs), "headers": {"Content-Type": "application/x-www-form-urlencoded"}}


async def _role(owner_engine, org_id, key):
    async with owner_engine.connect() as conn:
        return (
            await conn.execute(
                text("SELECT id, version FROM roles WHERE organization_id = :o AND key = :k AND deleted_at IS NULL"),
                {"o": org_id, "k": key},
            )
        ).one()


async def test_custom_role_appears_in_the_matrix_and_grants_exactly_its_permissions(app, client, factory, owner_engine):
    owner = await factory.org_with_owner()
    crew = await factory.member(owner, role=SystemRole.VIEWER)
    token = await login(client, owner.email, owner.password)
    created = await client.post(
        f"/o/{owner.org_slug}/roles",
        **_form(
            [
                ("csrf_token", token),
                ("name", "Recycling lead"),
                ("description", "Runs the recycling shift"),
                ("permissions", "ops:read"),
                ("permissions", "ops:run"),
            ]
        ),
    )
    assert created.status_code == 303
    matrix = await (await client.get(f"/o/{owner.org_slug}/roles")).get_data(as_text=True)
    assert "Recycling lead" in matrix
    cell = re.compile(
        r'data-role="recycling_lead" data-permission="([a-z:]+)">.*?<span class="visually-hidden">([a-z ]+)<'
    )
    said = dict(cell.findall(matrix))
    assert said["ops:run"] == "granted" and said["members:write"] == "not granted"

    role_id, _ = await _role(owner_engine, owner.org_id, "recycling_lead")
    async with owner_engine.connect() as conn:
        version = (
            await conn.execute(text("SELECT version FROM memberships WHERE user_id = :u"), {"u": crew.id})
        ).scalar_one()
    await client.post(
        f"/o/{owner.org_slug}/members/{crew.id}/role",
        form={"csrf_token": token, "role_id": str(role_id), "version": str(version)},
    )
    crew_client = app.test_client()
    crew_token = await login(crew_client, crew.email, crew.password)
    started = await crew_client.post(f"/o/{owner.org_slug}/ops/checks", form={"csrf_token": crew_token})
    assert started.status_code in (200, 201, 303)
    assert (await crew_client.get(f"/o/{owner.org_slug}/members")).status_code == 403  # not granted


async def test_a_stale_role_edit_shows_both_versions_and_changes_nothing(client, factory, owner_engine):
    owner = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    await client.post(
        f"/o/{owner.org_slug}/roles",
        **_form([("csrf_token", token), ("name", "Night shift"), ("permissions", "ops:read")]),
    )
    role_id, version = await _role(owner_engine, owner.org_id, "night_shift")
    url = f"/o/{owner.org_slug}/roles/{role_id}"
    first = await client.post(
        url,
        **_form(
            [
                ("csrf_token", token),
                ("name", "Night shift"),
                ("version", version),
                ("description", "Saved first"),
                ("permissions", "ops:read"),
            ]
        ),
    )
    assert first.status_code == 303
    stale = await client.post(
        url,
        headers={"HX-Request": "true", "Content-Type": "application/x-www-form-urlencoded"},
        data=urlencode(
            [
                ("csrf_token", token),
                ("name", "Night crew"),
                ("version", version),
                ("description", "Saved second"),
                ("permissions", "ops:run"),
            ]
        ),
    )
    fragment = await stale.get_data(as_text=True)
    assert stale.status_code == 409
    assert fragment.lstrip().startswith('<section id="role-edit"')  # the fragment, not a page
    assert "Someone saved this role" in fragment and "Saved first" in fragment  # the current version
    assert 'value="Night crew"' in fragment  # what was typed is kept
    async with owner_engine.connect() as conn:
        name, description = (
            await conn.execute(text("SELECT name, description FROM roles WHERE id = :r"), {"r": role_id})
        ).one()
    assert (name, description) == ("Night shift", "Saved first")


async def test_a_role_cap_refuses_one_holder_too_many(client, factory, owner_engine, count_rows):
    owner = await factory.org_with_owner()
    first = await factory.member(owner, role=SystemRole.VIEWER)
    second = await factory.member(owner, role=SystemRole.VIEWER)
    token = await login(client, owner.email, owner.password)
    await client.post(
        f"/o/{owner.org_slug}/roles",
        **_form([("csrf_token", token), ("name", "Duty officer"), ("permissions", "ops:run"), ("max_holders", "1")]),
    )
    role_id, _ = await _role(owner_engine, owner.org_id, "duty_officer")
    granted = await client.post(
        f"/o/{owner.org_slug}/roles/assignments",
        form={"csrf_token": token, "user_id": str(first.id), "role_id": str(role_id)},
    )
    assert granted.status_code == 303
    refused = await client.post(
        f"/o/{owner.org_slug}/roles/assignments",
        form={"csrf_token": token, "user_id": str(second.id), "role_id": str(role_id)},
    )
    assert refused.status_code == 422 and "at most 1 person" in await refused.get_data(as_text=True)
    assert await count_rows("role_assignments", "role_id = :r AND revoked_at IS NULL", r=role_id) == 1


async def test_an_assignment_grants_until_it_expires_and_ends_when_revoked(app, client, factory, owner_engine):
    owner = await factory.org_with_owner()
    viewer = await factory.member(owner, role=SystemRole.VIEWER)
    token = await login(client, owner.email, owner.password)
    security, _ = await _role(owner_engine, owner.org_id, "security_officer")
    until = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    granted = await client.post(
        f"/o/{owner.org_slug}/roles/assignments",
        form={
            "csrf_token": token,
            "user_id": str(viewer.id),
            "role_id": str(security),
            "expires_at": until,
            "reason": "Audit week",
        },
    )
    assert granted.status_code == 303
    viewer_client = app.test_client()
    await login(viewer_client, viewer.email, viewer.password)
    url = f"/o/{owner.org_slug}/break-glass"
    home = await (await viewer_client.get(f"/o/{owner.org_slug}/")).get_data(as_text=True)
    assert "Recent activity" in home  # audit:read through the assignment

    async with owner_engine.begin() as conn:
        await conn.execute(
            text("UPDATE role_assignments SET expires_at = now() - interval '1 second' WHERE user_id = :u"),
            {"u": viewer.id},
        )
    home = await (await viewer_client.get(f"/o/{owner.org_slug}/")).get_data(as_text=True)
    assert "Recent activity" not in home
    assert (await viewer_client.get(url)).status_code == 200


async def test_role_input_is_checked_and_nobody_grants_what_they_lack(client, factory, owner_engine, count_rows):
    owner = await factory.org_with_owner()
    security = await factory.member(owner, role=SystemRole.SECURITY_OFFICER)
    token = await login(client, owner.email, owner.password)
    before = await count_rows("roles")
    for pairs, status in (
        ([("name", ""), ("permissions", "ops:read")], 422),
        ([("name", "x" * 81), ("permissions", "ops:read")], 422),
        ([("name", "Nothing")], 422),
        ([("name", "Bogus"), ("permissions", "ops:fly")], 422),
        ([("name", "Owner"), ("permissions", "ops:read")], 409),  # clashes with the system role key
        ([("name", "Capped"), ("permissions", "ops:read"), ("max_holders", "0")], 422),
    ):
        response = await client.post(f"/o/{owner.org_slug}/roles", **_form([("csrf_token", token), *pairs]))
        assert response.status_code == status, (pairs, response.status_code)
    assert await count_rows("roles") == before
    # the security officer may not write roles at all
    await client.post("/logout", form={"csrf_token": token})
    token = await login(client, security.email, security.password)
    response = await client.post(
        f"/o/{owner.org_slug}/roles",
        **_form([("csrf_token", token), ("name", "Escalate"), ("permissions", "org:delete")]),
    )
    assert response.status_code == 403
    assert await count_rows("roles") == before
