"""Catalog services: the reference catalog each organization gets, edits with provenance, mass closure (service
and schema), deletes blocked by recipes, restore, reset to reference, and the maintenance log."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select, text

from webapp.catalog import queries as catalog_queries
from webapp.catalog.enums import ModuleStatus
from webapp.catalog.models import ProcessingModule, Recipe, WasteMaterial
from webapp.catalog.reference import reference_catalog
from webapp.catalog.service import items, modules, recipes
from webapp.catalog.service.materials import MATERIALS
from webapp.catalog.service.modules import MODULES
from webapp.catalog.service.recipes import RECIPES
from webapp.core.errors import Conflict, ValidationError
from webapp.core.permissions import SystemRole
from webapp.core.tenancy import RequestContext, scope_session
from webapp.core.transaction import unit_of_work
from webapp.iam.catalog import system_role_permissions


def _ctx(member) -> RequestContext:
    return RequestContext(
        user_id=member.id,
        org_id=member.org_id,
        org_slug=member.org_slug,
        role="owner",
        permissions=system_role_permissions(SystemRole.OWNER),
    )


async def _by_key(session, model, key):
    return (await session.execute(select(model).where(model.key == key, model.deleted_at.is_(None)))).scalar_one()


def test_the_reference_file_matches_habitat_md():
    catalog = reference_catalog()
    assert (len(catalog["materials"]), len(catalog["modules"]), len(catalog["recipes"])) == (10, 8, 11)
    # §4.3's rule since 2026-12-02: a recipe's energy is its module's power × its duration
    power = {m["key"]: m["power_kw"] for m in catalog["modules"]}
    for recipe in catalog["recipes"]:
        assert recipe["energy_kwh"] == power[recipe["module"]] * recipe["duration_h"], recipe["key"]
    # every waste material has a route (urine brine had none before R11)
    assert {m["key"] for m in catalog["materials"]} <= {x["material"] for r in catalog["recipes"]
                                                         for x in r["inputs"] if "material" in x}  # fmt: skip
    # habitat.md §4.1: items 1-8 sum to 1.45 kg per crew-member-day
    assert sum(m["generation_kg_per_cm_day"] for m in catalog["materials"][:8]) == Decimal("1.45")
    for recipe in catalog["recipes"]:
        assert sum(x["kg"] for x in recipe["inputs"]) == sum(x["kg"] for x in recipe["outputs"]), recipe["key"]
    for entry in catalog["materials"] + catalog["modules"] + catalog["recipes"]:
        for field, source in entry["provenance"].items():
            assert source["basis"] in ("sourced", "derived", "estimate"), (entry["key"], field)
            if source["basis"] == "sourced":
                assert source["ref"] in catalog["references"], (entry["key"], field)


async def test_a_new_organization_gets_the_reference_catalog(factory, count_rows):
    owner = await factory.org_with_owner()
    where = "organization_id = :o AND deleted_at IS NULL AND reference_key IS NOT NULL"
    assert await count_rows("waste_materials", where, o=owner.org_id) == 10
    assert await count_rows("processing_modules", where, o=owner.org_id) == 8
    assert await count_rows("processing_recipes", where, o=owner.org_id) == 11  # habitat.md §4.3, R11 the brine
    lines = sum(len(r["inputs"]) + len(r["outputs"]) for r in reference_catalog()["recipes"])
    assert await count_rows("recipe_lines", "organization_id = :o", o=owner.org_id) == lines == 47


async def test_editing_a_number_marks_it_hand_set_and_reset_puts_the_reference_back(factory, maker):
    owner = await factory.org_with_owner()
    ctx = _ctx(owner)
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        wipes = await _by_key(session, WasteMaterial, "hygiene_wipes")
        assert wipes.provenance["generation_kg_per_cm_day"] == {
            "basis": "sourced",
            "ref": "ESA-CDF",
            "note": "ESA 'wet wipes 0.2'; the STS hygiene share would give 0.30",
        }
        await items.update_item(
            session, ctx, MATERIALS, wipes.id, {"generation_kg_per_cm_day": "0.3"}, version=wipes.version
        )
        assert wipes.provenance["generation_kg_per_cm_day"] == {"basis": "estimate", "note": "set by hand"}
        assert items.edited_numbers(MATERIALS, wipes) == {"generation_kg_per_cm_day"}
        await items.update_item(
            session,
            ctx,
            MATERIALS,
            wipes.id,
            {
                "density_kg_m3": "140",
                "provenance": {"density_kg_m3": {"basis": "sourced", "ref": "Own measurement 2031-02"}},
            },
            version=None,
        )
        assert wipes.provenance["density_kg_m3"]["basis"] == "sourced"
        await items.reset_item(session, ctx, MATERIALS, wipes.id)
        assert wipes.generation_kg_per_cm_day == Decimal("0.20") and wipes.density_kg_m3 == Decimal("150")
        assert wipes.provenance["generation_kg_per_cm_day"]["basis"] == "sourced"
        assert items.edited_numbers(MATERIALS, wipes) == set()


async def test_bad_values_name_every_field_and_change_nothing(factory, maker):
    owner = await factory.org_with_owner()
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        with pytest.raises(ValidationError) as caught:
            await items.create_item(
                session,
                _ctx(owner),
                MATERIALS,
                {
                    "key": "Bad Key",
                    "name": "",
                    "category": "lava",
                    "generation_kg_per_cm_day": "-1",
                    "moisture_fraction": "1.5",
                    "density_kg_m3": "0",
                    "provenance": {"density_kg_m3": {"basis": "sourced"}},
                },
            )
        fields = caught.value.details["fields"]
        assert set(fields) == {
            "key",
            "name",
            "category",
            "generation_kg_per_cm_day",
            "moisture_fraction",
            "density_kg_m3",
            "provenance",
        }
        assert "needs its reference" in fields["provenance"][0]


async def test_a_stale_version_is_a_conflict_carrying_the_saved_values(factory, maker):
    owner = await factory.org_with_owner()
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        press = await _by_key(session, ProcessingModule, "press")
        old = press.version
        await items.update_item(session, _ctx(owner), MODULES, press.id, {"power_kw": "1.6"}, version=old)
        with pytest.raises(Conflict) as caught:
            await items.update_item(session, _ctx(owner), MODULES, press.id, {"power_kw": "1.7"}, version=old)
        assert caught.value.details["current"]["power_kw"] == Decimal("1.6")


async def test_an_unbalanced_recipe_is_refused_with_the_gap_named(factory, maker):
    owner = await factory.org_with_owner()
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        foam = await _by_key(session, WasteMaterial, "foam")
        hmc = await _by_key(session, ProcessingModule, "hmc")
        with pytest.raises(ValidationError) as caught:
            await recipes.create_recipe(
                session,
                _ctx(owner),
                {
                    "name": "Foam brick",
                    "module_id": str(hmc.id),
                    "duration_h": "1",
                    "energy_kwh": "1",
                    "crew_h": "0.1",
                    "lines": [
                        {"direction": "input", "material_id": str(foam.id), "kg": "1.0"},
                        {"direction": "output", "resource": "foam_block", "kg": "0.9"},
                    ],
                },
            )
        message = caught.value.details["fields"]["lines"][0]
        assert "inputs total 1 kg, outputs 0.9 kg" in message and "Add 0.1 kg to the outputs" in message
        created = await recipes.create_recipe(
            session,
            _ctx(owner),
            {
                "name": "Foam brick",
                "module_id": str(hmc.id),
                "duration_h": "1",
                "energy_kwh": "1",
                "crew_h": "0.1",
                "lines": [
                    {"direction": "input", "material_id": str(foam.id), "kg": "1.0"},
                    {"direction": "output", "resource": "foam_block", "kg": "0.9"},
                    {"direction": "output", "resource": "loss", "kg": "0.1"},
                ],
            },
        )
        assert created.key == "foam_brick" and created.provenance["lines"]["basis"] == "estimate"


async def test_the_schema_refuses_unbalanced_lines_at_commit(factory, maker):
    owner = await factory.org_with_owner()
    with pytest.raises(Exception, match="does not balance"):
        async with unit_of_work(maker) as session:
            await scope_session(session, org_id=owner.org_id, user_id=owner.id)
            await session.execute(
                text("UPDATE recipe_lines SET kg = kg + 1 WHERE id = (SELECT id FROM recipe_lines LIMIT 1)")
            )
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        assert (await session.execute(text("SELECT count(*) FROM recipe_lines WHERE kg > 5"))).scalar_one() == 0


async def test_deleting_a_material_a_recipe_uses_is_refused_until_the_recipe_goes(factory, maker):
    owner = await factory.org_with_owner()
    ctx = _ctx(owner)
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        feces = await _by_key(session, WasteMaterial, "feces")
        with pytest.raises(Conflict, match="Reform feces"):
            await items.delete_item(session, ctx, MATERIALS, feces.id)
        recipe = await _by_key(session, Recipe, "reform_feces")
        await items.delete_item(session, ctx, RECIPES, recipe.id)
        await items.delete_item(session, ctx, MATERIALS, feces.id)
        with pytest.raises(Conflict, match="Restore the recipe's module and waste materials first"):
            await recipes.restore_recipe(session, ctx, recipe.id)
        await items.restore_item(session, ctx, MATERIALS, feces.id)
        await recipes.restore_recipe(session, ctx, recipe.id)
        assert recipe.deleted_at is None


async def test_a_status_change_writes_the_maintenance_log(factory, maker, count_rows):
    owner = await factory.org_with_owner()
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        sinter = await _by_key(session, ProcessingModule, "sinter")
        await modules.update_module(
            session, _ctx(owner), sinter.id, {"status": "failed", "status_note": "magnetron"}, version=sinter.version
        )
        assert sinter.status == ModuleStatus.FAILED
        await modules.log_maintenance(
            session,
            _ctx(owner),
            sinter.id,
            {"kind": "repair", "note": "new magnetron", "downtime_h": "6"},
            status="operational",
        )
    assert await count_rows("module_maintenance", "module_id = :m", m=sinter.id) == 2
    assert (
        await count_rows(
            "module_maintenance",
            "module_id = :m AND status_from = 'failed' AND status_to = 'operational' AND kind = 'repair'",
            m=sinter.id,
        )
        == 1
    )


async def test_a_moon_mission_neither_lists_nor_plans_with_mars_only_equipment(factory, maker):
    owner = await factory.org_with_owner()
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        isru = await _by_key(session, ProcessingModule, "o2_isru")
        # a recipe that needs the Mars-only module (moved onto it here) goes wherever the module goes
        recipe = await _by_key(session, Recipe, "sinter_brick")
        recipe.module_id = isru.id
        await session.flush()
        moon = await catalog_queries.planning_catalog(session, owner.org_id, "moon")
        mars = await catalog_queries.planning_catalog(session, owner.org_id, "mars")
        assert "o2_isru" not in {m["key"] for m in moon["modules"]} and len(moon["modules"]) == 7
        assert "o2_isru" in {m["key"] for m in mars["modules"]} and len(mars["modules"]) == 8
        assert "sinter_brick" not in {r["key"] for r in moon["recipes"]}
        assert "sinter_brick" in {r["key"] for r in mars["recipes"]}
        listed = {m.key for m in await catalog_queries.module_summaries(session, owner.org_id, "moon")}
        assert "o2_isru" not in listed and len(listed) == 7
        listed = {m.key for m in await catalog_queries.module_summaries(session, owner.org_id, "mars")}
        assert "o2_isru" in listed


async def test_a_new_catalog_plans_its_reference_blends_and_edited_lines_keep_them(factory, maker):
    owner = await factory.org_with_owner()
    ctx = _ctx(owner)
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)

        async def blends() -> dict:
            planned = await catalog_queries.planning_catalog(session, owner.org_id, "moon")
            return {r["key"]: r["blend"] for r in planned["recipes"]}

        found = await blends()
        assert found["hmc_trash_tile"] == {"min_share": Decimal("0.2"), "of": ["food_packaging", "misc_plastics"]}
        assert found["shred_plastics"] == {"min_share": 0, "of": []} and found["sinter_brick"] is None
        # new amounts for the tile (its lines written again): the plastics still count toward its share
        tile = await _by_key(session, Recipe, "hmc_trash_tile")
        keys = {m.key: m.id for m in (await session.execute(select(WasteMaterial))).scalars()}
        lines = [
            {"direction": "input", "material_id": str(keys["food_packaging"]), "kg": "1.0"},
            {"direction": "input", "material_id": str(keys["paper"]), "kg": "0.6"},
            {"direction": "input", "material_id": str(keys["misc_plastics"]), "kg": "0.4"},
            {"direction": "output", "resource": "hmc_tile", "kg": "1.6"},
            {"direction": "output", "resource": "loss", "kg": "0.4"},
        ]
        await recipes.update_recipe(session, ctx, tile.id, {"lines": lines}, version=tile.version)
        assert (await blends())["hmc_trash_tile"] == found["hmc_trash_tile"]
        await recipes.reset_recipe(session, ctx, tile.id)
        assert (await blends())["hmc_trash_tile"] == found["hmc_trash_tile"]
        assert tile.blend_min_share == Decimal("0.2")
