"""The JSON API for roles, assignments, members, invitations and API keys, driven by an API key."""

from __future__ import annotations

from tests.helpers import login
from webapp.core.permissions import SystemRole


async def _admin_key(client, member) -> dict:
    token = await login(client, member.email, member.password)
    created = await client.post(
        f"/api/v1/organizations/{member.org_id}/api-keys",
        headers={"X-CSRF-Token": token},
        json={
            "name": "automation",
            "permissions": [
                "roles:read",
                "roles:write",
                "members:read",
                "members:write",
                "members:invite",
                "apikeys:write",
                "ops:read",
                "org:read",
                "missions:read",
                "catalog:read",
                "products:read",
                "simulations:read",
            ],
        },
    )
    body = await created.get_json()
    assert created.status_code == 201, body
    assert body["key"].startswith("cl_live_") and created.headers["Location"].endswith(body["id"])
    listed = await client.get(f"/api/v1/organizations/{member.org_id}/api-keys")
    assert all("key" not in item for item in (await listed.get_json())["items"])  # shown once only
    return {"Authorization": f"Bearer {body['key']}"}


async def test_roles_and_assignments_over_json(app, client, factory):
    owner = await factory.org_with_owner()
    crew = await factory.member(owner, role=SystemRole.VIEWER)
    auth, api = await _admin_key(client, owner), app.test_client()
    base = f"/api/v1/organizations/{owner.org_id}"

    catalog = await (await api.get("/api/v1/permissions", headers=auth)).get_json()
    assert {"roles:write", "apikeys:admin", "ops:run"} <= {item["name"] for item in catalog["items"]}
    beyond = await api.post(f"{base}/roles", headers=auth, json={"name": "Runner", "permissions": ["ops:run"]})
    assert beyond.status_code == 403  # the key does not hold ops:run, so it cannot hand it out
    created = await api.post(f"{base}/roles", headers=auth, json={"name": "Hydroponics", "permissions": ["ops:read"]})
    role = await created.get_json()
    assert (
        created.status_code == 201 and role["key"] == "hydroponics" and created.headers["Location"].endswith(role["id"])
    )

    patched = await api.patch(
        f"{base}/roles/{role['id']}", headers=auth, json={"version": role["version"], "description": "Grow beds"}
    )
    assert patched.status_code == 200 and (await patched.get_json())["version"] == role["version"] + 1
    stale = await api.patch(
        f"{base}/roles/{role['id']}", headers=auth, json={"version": role["version"], "name": "Old"}
    )
    body = await stale.get_json()
    assert stale.status_code == 409 and body["error"] == "Conflict"
    assert body["details"]["current"]["description"] == "Grow beds"
    assert body["details"]["current"]["version"] == role["version"] + 1

    bad = await api.post(f"{base}/roles", headers=auth, json={"name": "x" * 81, "permissions": "ops:read"})
    assert bad.status_code == 422 and {"name", "permissions"} <= set((await bad.get_json())["details"]["fields"])

    granted = await api.post(
        f"{base}/assignments",
        headers=auth,
        json={
            "user_id": str(crew.id),
            "role_id": role["id"],
            "expires_at": "2099-01-01T00:00:00Z",
            "reason": "harvest",
        },
    )
    assignment = await granted.get_json()
    assert granted.status_code == 201 and assignment["role_name"] == "Hydroponics"
    naive = await api.post(
        f"{base}/assignments",
        headers=auth,
        json={"user_id": str(owner.id), "role_id": role["id"], "expires_at": "2099-01-01T00:00:00"},
    )
    assert naive.status_code == 422
    held = await api.delete(f"{base}/roles/{role['id']}", headers=auth)
    assert held.status_code == 409  # still held
    assert (await api.delete(f"{base}/assignments/{assignment['id']}", headers=auth)).status_code == 204
    assert (await api.delete(f"{base}/roles/{role['id']}", headers=auth)).status_code == 204
    assert (await api.get(f"{base}/roles/{role['id']}", headers=auth)).status_code == 404


async def test_members_and_invitations_over_json(app, client, factory, mailbox, deliver):
    owner = await factory.org_with_owner()
    crew = await factory.member(owner)
    auth, api = await _admin_key(client, owner), app.test_client()
    base = f"/api/v1/organizations/{owner.org_id}"
    roles = {r["key"]: r for r in (await (await api.get(f"{base}/roles", headers=auth)).get_json())["items"]}
    members = (await (await api.get(f"{base}/members", headers=auth)).get_json())["items"]
    assert {m["email"] for m in members} == {owner.email, crew.email}
    crew_row = next(m for m in members if m["user_id"] == str(crew.id))

    changed = await api.patch(
        f"{base}/members/{crew.id}",
        headers=auth,
        json={"role_id": roles["viewer"]["id"], "version": crew_row["version"]},
    )
    assert changed.status_code == 200 and (await changed.get_json())["role"] == "viewer"
    escalate = await api.patch(f"{base}/members/{crew.id}", headers=auth, json={"role_id": roles["analyst"]["id"]})
    assert escalate.status_code == 403  # analyst grants ops:run, which this key does not hold
    stale = await api.patch(
        f"{base}/members/{crew.id}",
        headers=auth,
        json={"role_id": roles["crew_member"]["id"], "version": crew_row["version"]},
    )
    assert stale.status_code == 409 and (await stale.get_json())["details"]["current"]["role"] == "viewer"

    invited = await api.post(
        f"{base}/members", headers=auth, json={"email": "pilot@example.org", "role_id": roles["viewer"]["id"]}
    )
    assert invited.status_code == 201 and (await invited.get_json())["email"] == "pilot@example.org"
    await deliver()
    assert (await mailbox.wait_for("pilot@example.org", "invited you")).link("/invitations/accept")
    again = await api.post(
        f"{base}/invitations", headers=auth, json={"email": "Pilot@Example.org", "role_id": roles["viewer"]["id"]}
    )
    assert again.status_code == 409
    invalid = await api.post(f"{base}/invitations", headers=auth, json={"email": "nope", "role_id": "nope"})
    assert invalid.status_code == 422

    assert (await api.delete(f"{base}/members/{crew.id}", headers=auth)).status_code == 204
    assert (await api.get(f"{base}/members/{crew.id}", headers=auth)).status_code == 404
