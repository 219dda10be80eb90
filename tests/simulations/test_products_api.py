"""Products over JSON: record (201 + Location), validation, list filters/sort/cursor per mission and per
organization, 409 on a stale correction, delete (204) and restore, and another organization's product."""

from __future__ import annotations

from tests.missions.test_missions_api import MISSION, _key


async def test_products_lifecycle(app, client, factory):
    owner = await factory.org_with_owner()
    auth = await _key(
        client, owner, ["missions:read", "missions:write", "products:read", "products:write", "catalog:read"]
    )
    api = app.test_client()
    mission = await (
        await api.post(f"/api/v1/organizations/{owner.org_id}/missions", headers=auth, json=MISSION)
    ).get_json()

    bad = await api.post(
        "/api/v1/products", headers=auth, json={"mission_id": mission["id"], "product_type": "loss", "quantity_kg": -2}
    )
    fields = (await bad.get_json())["details"]["fields"]
    assert bad.status_code == 422 and set(fields) == {"product_type", "quantity_kg"}
    future = await api.post(
        "/api/v1/products",
        headers=auth,
        json={"mission_id": mission["id"], "product_type": "brick", "quantity_kg": 2, "produced_at": "2999-01-01"},
    )
    assert future.status_code == 422 and set((await future.get_json())["details"]["fields"]) == {"produced_at"}

    ids = []
    for kind, kg in (("brick", 4.9), ("water", 0.35), ("brick", 3.9), ("filament", 0.85)):
        created = await api.post(
            "/api/v1/products",
            headers=auth,
            json={"mission_id": mission["id"], "product_type": kind, "quantity_kg": kg, "notes": f"{kind} batch"},
        )
        assert created.status_code == 201, await created.get_json()
        body = await created.get_json()
        assert created.headers["Location"] == f"/api/v1/products/{body['id']}" and body["kind"] == "recorded"
        ids.append(body["id"])

    bricks = await (
        await api.get(
            f"/api/v1/missions/{mission['id']}/products?product_type=brick&sort=quantity_kg:asc", headers=auth
        )
    ).get_json()
    assert [p["quantity_kg"] for p in bricks["items"]] == [3.9, 4.9]
    first = await (await api.get(f"/api/v1/organizations/{owner.org_id}/products?limit=3", headers=auth)).get_json()
    rest = await (
        await api.get(
            f"/api/v1/organizations/{owner.org_id}/products?limit=3&cursor={first['next_cursor']}", headers=auth
        )
    ).get_json()
    assert len(first["items"]) == 3 and len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert {p["id"] for p in first["items"] + rest["items"]} == set(ids)
    assert (
        await api.get(f"/api/v1/organizations/{owner.org_id}/products?product_type=lava", headers=auth)
    ).status_code == 400
    found = await (await api.get(f"/api/v1/organizations/{owner.org_id}/products?q=filament", headers=auth)).get_json()
    assert [p["product_type"] for p in found["items"]] == ["filament"]

    url = f"/api/v1/products/{ids[0]}"
    fixed = await api.patch(url, headers=auth, json={"version": 1, "quantity_kg": 5.0})
    assert fixed.status_code == 200 and (await fixed.get_json())["quantity_kg"] == 5.0
    stale = await api.patch(url, headers=auth, json={"version": 1, "quantity_kg": 6.0})
    assert stale.status_code == 409 and (await stale.get_json())["details"]["current"]["version"] == 2
    assert (await api.delete(url, headers=auth)).status_code == 204
    assert (await api.get(url, headers=auth)).status_code == 404
    assert (await api.post(f"{url}/restore", headers=auth)).status_code == 200

    other = await factory.org_with_owner()
    other_auth = await _key(app.test_client(), other, ["products:read", "products:write", "missions:read"])
    assert (await api.get(url, headers=other_auth)).status_code == 404
    assert (await api.get(f"/api/v1/missions/{mission['id']}/products", headers=other_auth)).status_code == 404
    foreign = await api.post(
        "/api/v1/products",
        headers=other_auth,
        json={"mission_id": mission["id"], "product_type": "brick", "quantity_kg": 1},
    )
    assert foreign.status_code == 422 and "mission_id" in (await foreign.get_json())["details"]["fields"]
