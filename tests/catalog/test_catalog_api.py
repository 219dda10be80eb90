"""The catalog over JSON: lists with filters and sorts, create/patch/delete/restore/reset per kind, recipe
lines and mass closure, the maintenance log, 409s, and another organization's items."""

from __future__ import annotations

from tests.missions.test_missions_api import _key

PERMS = ["catalog:read", "catalog:write", "modules:operate"]


async def test_materials_modules_and_recipes_over_json(app, client, factory):
    owner = await factory.org_with_owner()
    auth = await _key(client, owner, PERMS)
    api = app.test_client()
    org = f"/api/v1/organizations/{owner.org_id}"

    materials = await (
        await api.get(f"{org}/waste-materials?limit=100&sort=generation_kg_per_cm_day:desc", headers=auth)
    ).get_json()
    assert len(materials["items"]) == 10 and materials["items"][0]["key"] == "textiles"
    wet = await (await api.get(f"{org}/waste-materials?category=metabolic", headers=auth)).get_json()
    assert [m["key"] for m in wet["items"]] == ["feces"]
    assert wet["items"][0]["provenance"]["moisture_fraction"]["basis"] == "derived"

    created = await api.post(
        f"{org}/waste-materials",
        headers=auth,
        json={
            "name": "EVA waste",
            "category": "other",
            "generation_kg_per_cm_day": 0.05,
            "density_kg_m3": 120,
            "provenance": {"generation_kg_per_cm_day": {"basis": "estimate", "note": "per EVA day"}},
        },
    )
    eva = await created.get_json()
    assert created.status_code == 201 and eva["key"] == "eva_waste", eva
    assert created.headers["Location"] == f"/api/v1/waste-materials/{eva['id']}"
    taken = await api.post(
        f"{org}/waste-materials",
        headers=auth,
        json={
            "key": "eva_waste",
            "name": "Again",
            "category": "other",
            "generation_kg_per_cm_day": 1,
            "density_kg_m3": 1,
        },
    )
    assert taken.status_code == 409

    modules = {
        m["key"]: m for m in (await (await api.get(f"{org}/modules?limit=100", headers=auth)).get_json())["items"]
    }
    press = modules["press"]
    # logistics mass: the reference estimates, labelled so, and an edit that must be a non-negative number
    assert press["spares_kg_per_repair"] == 3.0 and press["consumables_kg_per_h"] == 0.005
    assert press["provenance"]["spares_kg_per_repair"]["basis"] == "estimate"
    negative = await api.patch(
        f"/api/v1/processing-modules/{press['id']}",
        headers=auth,
        json={"version": press["version"], "spares_kg_per_repair": -1},
    )
    assert negative.status_code == 422
    spares = await api.patch(
        f"/api/v1/processing-modules/{press['id']}",
        headers=auth,
        json={"version": press["version"], "spares_kg_per_repair": 4.5, "consumables_kg_per_h": None},
    )
    assert spares.status_code == 200
    press = await spares.get_json()
    assert press["spares_kg_per_repair"] == 4.5 and press["consumables_kg_per_h"] is None
    failed = await api.patch(
        f"/api/v1/processing-modules/{press['id']}",
        headers=auth,
        json={"version": press["version"], "status": "failed", "status_note": "hydraulics"},
    )
    assert failed.status_code == 200 and (await failed.get_json())["status"] == "failed"
    log = await (await api.get(f"/api/v1/processing-modules/{press['id']}/maintenance", headers=auth)).get_json()
    assert log["items"][0]["status_to"] == "failed" and log["items"][0]["note"] == "hydraulics"
    repaired = await api.post(
        f"/api/v1/processing-modules/{press['id']}/maintenance",
        headers=auth,
        json={"kind": "repair", "note": "new seals", "downtime_h": 5, "status": "operational"},
    )
    assert repaired.status_code == 201
    stale = await api.patch(
        f"/api/v1/processing-modules/{press['id']}", headers=auth, json={"version": press["version"], "power_kw": 2}
    )
    assert stale.status_code == 409

    hmc = modules["hmc"]
    recipe_body = {
        "name": "EVA trash tile",
        "module_id": hmc["id"],
        "duration_h": 2,
        "energy_kwh": 1,
        "crew_h": 0.1,
        "lines": [
            {"direction": "input", "material_id": eva["id"], "kg": 1.0},
            {"direction": "output", "resource": "hmc_tile", "kg": 0.8},
        ],
    }
    unbalanced = await api.post(f"{org}/recipes", headers=auth, json=recipe_body)
    assert unbalanced.status_code == 422
    assert "Add 0.2 kg to the outputs" in (await unbalanced.get_json())["details"]["fields"]["lines"][0]
    recipe_body["lines"].append({"direction": "output", "resource": "loss", "kg": 0.2})
    recipe = await (await api.post(f"{org}/recipes", headers=auth, json=recipe_body)).get_json()
    assert [line["kg"] for line in recipe["lines"]] == [1.0, 0.8, 0.2]
    assert recipe["lines"][0]["material_key"] == "eva_waste"

    blocked = await api.delete(f"/api/v1/waste-materials/{eva['id']}", headers=auth)
    assert blocked.status_code == 409 and "EVA trash tile" in (await blocked.get_json())["message"]
    assert (await api.delete(f"/api/v1/processing-recipes/{recipe['id']}", headers=auth)).status_code == 204
    assert (await api.delete(f"/api/v1/waste-materials/{eva['id']}", headers=auth)).status_code == 204
    assert (await api.post(f"/api/v1/waste-materials/{eva['id']}/restore", headers=auth)).status_code == 200
    assert (await api.post(f"/api/v1/processing-recipes/{recipe['id']}/restore", headers=auth)).status_code == 200

    sinter = (await (await api.get(f"{org}/recipes?q=sinter", headers=auth)).get_json())["items"][0]
    edited = await api.patch(
        f"/api/v1/processing-recipes/{sinter['id']}",
        headers=auth,
        json={
            "energy_kwh": 9,
            "lines": [
                {"direction": "input", "resource": "regolith", "kg": 4},
                {"direction": "output", "resource": "brick", "kg": 3.8},
                {"direction": "output", "resource": "loss", "kg": 0.2},
            ],
        },
    )
    edited_body = await edited.get_json()
    assert edited.status_code == 200 and edited_body["provenance"]["lines"]["note"] == "set by hand"
    reset = await (await api.post(f"/api/v1/processing-recipes/{sinter['id']}/reset", headers=auth)).get_json()
    assert reset["energy_kwh"] == 6.0 and [x["kg"] for x in reset["lines"]] == [4.0, 3.9, 0.1]
    assert reset["provenance"]["energy_kwh"]["basis"] == "derived"

    # blends: the trash tile takes any mix with at least 20 % of its marked plastics
    tile = (await (await api.get(f"{org}/recipes?q=hmc_trash", headers=auth)).get_json())["items"][0]
    assert tile["blend_min_share"] == 0.2 and reset["blend_min_share"] is None
    assert [x["material_key"] for x in tile["lines"] if x["blend_group"]] == ["food_packaging", "misc_plastics"]
    tile_url = f"/api/v1/processing-recipes/{tile['id']}"
    inputs = [x for x in tile["lines"] if x["direction"] == "input"]
    outputs = [
        {"direction": "output", "resource": x["resource"], "kg": x["kg"]} for x in tile["lines"] if x["resource"]
    ]
    unmarked = [{"direction": "input", "material_id": x["material_id"], "kg": x["kg"], "blend_group": False}
                for x in inputs]  # fmt: skip
    refused = await api.patch(tile_url, headers=auth, json={"lines": unmarked + outputs})
    assert refused.status_code == 422 and "blend_min_share" in (await refused.get_json())["details"]["fields"]
    on_output = [dict(outputs[0], blend_group=True)] + outputs[1:]
    refused = await api.patch(tile_url, headers=auth, json={"lines": unmarked + on_output, "blend_min_share": 0})
    assert refused.status_code == 422 and "only an input" in str((await refused.get_json())["details"])
    anything = await api.patch(tile_url, headers=auth, json={"lines": unmarked + outputs, "blend_min_share": 0})
    assert anything.status_code == 200 and (await anything.get_json())["blend_min_share"] == 0.0
    fixed = await api.patch(tile_url, headers=auth, json={"blend_min_share": None})
    assert fixed.status_code == 200 and (await fixed.get_json())["blend_min_share"] is None

    other = await factory.org_with_owner()
    other_auth = await _key(app.test_client(), other, PERMS)
    assert (await api.get(f"/api/v1/processing-recipes/{sinter['id']}", headers=other_auth)).status_code == 404
    assert (
        await api.patch(f"/api/v1/waste-materials/{eva['id']}", headers=other_auth, json={"name": "x"})
    ).status_code == 404
    reader = await _key(app.test_client(), owner, ["catalog:read"])
    assert (await api.post(f"{org}/waste-materials", headers=reader, json={"name": "x"})).status_code == 403
