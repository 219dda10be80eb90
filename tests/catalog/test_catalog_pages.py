"""Catalog pages: lists (search, filters, sort, load more, CSV), modal create with validation, inline edit with
a stale-version conflict row, delete guarded by recipes with undo, reset to reference, the maintenance log, and
another organization's items staying out of reach."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

from sqlalchemy import text

from tests.helpers import login
from webapp.catalog.reference import reference_catalog, reference_entry

HX = {"HX-Request": "true"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def _ids(owner_engine, table: str, org_id) -> dict[str, str]:
    async with owner_engine.connect() as conn:
        rows = await conn.execute(
            text(f"SELECT key, id FROM {table} WHERE organization_id = :o AND deleted_at IS NULL"), {"o": org_id}
        )
        return {key: str(i) for key, i in rows}


async def test_lists_search_filter_sort_load_more_and_export(client, factory, owner_engine):
    owner = await factory.org_with_owner()
    await login(client, owner.email, owner.password)
    base = f"/o/{owner.org_slug}/catalog"
    home = await client.get(base)
    assert home.status_code == 200 and "<h1>Waste materials</h1>" in await home.get_data(as_text=True)
    page = await (await client.get(f"{base}/materials?sort=generation_kg_per_cm_day:desc&limit=4")).get_data(
        as_text=True
    )
    assert page.index("Textiles") < page.index("Food packaging") and "Load more" in page
    assert 'class="prov prov-sourced"' in page  # provenance badges beside numbers
    cursor = page.split("cursor=")[1].split('"')[0].replace("&amp;", "&")
    more = await (
        await client.get(f"{base}/materials?sort=generation_kg_per_cm_day:desc&limit=4&cursor={cursor}", headers=HX)
    ).get_data(as_text=True)
    assert "<html" not in more and "Textiles" not in more and "Hygiene wipes" in more
    found = await client.get(f"{base}/materials?q=food", headers=HX | {"HX-Target": "catalog-results"})
    rows = await found.get_data(as_text=True)
    assert "Food waste" in rows and "Food packaging" in rows and "Hygiene" not in rows and "<html" not in rows
    none = await (await client.get(f"{base}/materials?q=zzzz")).get_data(as_text=True)
    assert "matches these filters" in none
    assert (await client.get(f"{base}/materials?category=plutonium")).status_code == 400
    assert (await client.get(f"{base}/modules?status=exploded")).status_code == 400
    failed = await (await client.get(f"{base}/modules?status=failed")).get_data(as_text=True)
    assert "matches these filters" in failed
    modules = await _ids(owner_engine, "processing_modules", owner.org_id)
    recipes = await (await client.get(f"{base}/recipes?module_id={modules['reformer']}")).get_data(as_text=True)
    assert "Reform organics" in recipes and "HMC trash tile" not in recipes
    exported = await client.get(f"{base}/materials/export.csv?category=food")
    records = list(csv.DictReader(io.StringIO(await exported.get_data(as_text=True))))
    assert [r["key"] for r in records] == ["food_waste"] and records[0]["hazardous"] in ("yes", "no")
    assert "generation_kg_per_cm_day" in records[0]
    recipe_csv = await (await client.get(f"{base}/recipes/export.csv")).get_data(as_text=True)
    assert "inputs" in recipe_csv.splitlines()[0]
    assert len(recipe_csv.splitlines()) == 1 + len(reference_catalog()["recipes"])  # header + every recipe


async def test_modal_create_validates_everything_and_recipes_must_balance(client, factory, count_rows, owner_engine):
    owner = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    base = f"/o/{owner.org_slug}/catalog"
    modal = await client.get(f"{base}/materials/new", headers=HX | {"HX-Target": "modal-body"})
    assert '<form id="item-form"' in await modal.get_data(as_text=True)
    before = await count_rows("waste_materials", "organization_id = :o", o=owner.org_id)
    form = {
        "csrf_token": token,
        "name": "Suit liner",
        "category": "textile",
        "generation_kg_per_cm_day": "-1",
        "density_kg_m3": "abc",
        "moisture_fraction": "1.5",
        "hazardous": "",
    }
    bad = await client.post(f"{base}/materials", form=form, headers=HX)
    html = await bad.get_data(as_text=True)
    assert bad.status_code == 422 and "<html" not in html
    assert "Must be at least 0" in html and "Enter a number" in html and "Must be at most 1" in html
    assert await count_rows("waste_materials", "organization_id = :o", o=owner.org_id) == before
    good = await client.post(
        f"{base}/materials",
        headers=HX,
        form=form
        | {
            "generation_kg_per_cm_day": "0.02",
            "density_kg_m3": "150",
            "moisture_fraction": "0",
            "prov_density_kg_m3_basis": "sourced",
            "prov_density_kg_m3_ref": "NASA/TM-2023-1234",
        },
    )
    assert good.status_code == 204 and "/catalog/materials/" in good.headers["HX-Redirect"]
    detail = await (await client.get(good.headers["HX-Redirect"])).get_data(as_text=True)
    assert "Suit liner" in detail and "suit_liner" in detail and "NASA/TM-2023-1234" in detail
    assert "added by your organization" in detail

    materials = await _ids(owner_engine, "waste_materials", owner.org_id)
    modules = await _ids(owner_engine, "processing_modules", owner.org_id)
    fields = {
        "csrf_token": token,
        "name": "Liner shredding",
        "module_id": modules["shredder"],
        "duration_h": "1",
        "energy_kwh": "0.5",
        "crew_h": "0.1",
        "priority": "50",
    }

    def recipe(loss_kg: str) -> str:
        """The form body with repeated line fields, as the browser sends it."""
        lines = [
            ("input", f"m:{materials['suit_liner']}", "2"),
            ("output", "r:insulation", "1.5"),
            ("output", "r:loss", loss_kg),
            ("input", "", ""),
        ]  # the spare empty row is ignored
        return urlencode(
            list(fields.items())
            + [
                (name, value)
                for line in lines
                for name, value in zip(("line_direction", "line_item", "line_kg"), line, strict=True)
            ]
        )

    unbalanced = await client.post(f"{base}/recipes", data=recipe("0.4"), headers=HX | FORM)
    text_ = await unbalanced.get_data(as_text=True)
    assert unbalanced.status_code == 422 and "Mass does not balance" in text_ and "Add 0.1 kg to the outputs" in text_
    assert 'value="1.5"' in text_  # the typed lines come back
    assert await count_rows("processing_recipes", "key = 'liner_shredding'") == 0
    balanced = await client.post(f"{base}/recipes", data=recipe("0.5"), headers=FORM)
    assert balanced.status_code == 303
    shown = await (await client.get(balanced.headers["Location"])).get_data(as_text=True)
    assert "Inputs · 2 kg" in shown and "Outputs · 2 kg" in shown and "Insulation" in shown


async def test_inline_module_edit_logs_status_and_a_stale_row_shows_both(client, factory, owner_engine):
    owner = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    module = (await _ids(owner_engine, "processing_modules", owner.org_id))["shredder"]
    url = f"/o/{owner.org_slug}/catalog/modules/{module}"
    row = {"HX-Target": f"item-{module}"} | HX
    editing = await (await client.get(f"{url}/edit", headers=row)).get_data(as_text=True)
    assert 'class="editing"' in editing and f'form="edit-{module}"' in editing
    form = {
        "csrf_token": token,
        "version": "1",
        "status": "maintenance",
        "throughput_kg_h": "6",
        "power_kw": "1.5",
        "hours_per_day": "4",
        "next_maintenance_due": "2031-02-01",
    }
    saved = await client.post(url, form=form, headers=row)
    html = await saved.get_data(as_text=True)
    assert saved.status_code == 200 and 'class="editing"' not in html and "pill-maintenance" in html
    stale = await client.post(url, form=form | {"throughput_kg_h": "9"}, headers=row)
    html = await stale.get_data(as_text=True)
    assert stale.status_code == 409 and "Someone saved this processing module" in html and "Saved: 6" in html
    current = html.split('name="version" type="hidden" value="')[1].split('"')[0]  # the conflict row carries it
    bad = await client.post(url, form=form | {"version": current, "hours_per_day": "30"}, headers=row)
    assert bad.status_code == 422 and "Must be at most 24" in await bad.get_data(as_text=True)
    async with owner_engine.connect() as conn:
        saved_row = (
            await conn.execute(
                text(
                    "SELECT throughput_kg_h, hours_per_day, status, version, provenance "
                    "FROM processing_modules WHERE id = :i"
                ),
                {"i": module},
            )
        ).one()
        log = (
            await conn.execute(
                text("SELECT status_from, status_to FROM module_maintenance WHERE module_id = :i"), {"i": module}
            )
        ).all()
    assert (float(saved_row.throughput_kg_h), float(saved_row.hours_per_day), saved_row.status) == (6, 4, "maintenance")
    assert saved_row.provenance["throughput_kg_h"] == {"basis": "estimate", "note": "set by hand"}
    assert [(a, b) for a, b in log] == [("operational", "maintenance")]
    detail = await (await client.get(url)).get_data(as_text=True)
    assert "Maintenance log" in detail and "changed" in detail and "Reset to reference" in detail
    reset = await client.post(f"{url}/reset", form={"csrf_token": token})
    assert reset.status_code == 303
    async with owner_engine.connect() as conn:
        after = (
            await conn.execute(
                text("SELECT throughput_kg_h, provenance FROM processing_modules WHERE id = :i"), {"i": module}
            )
        ).one()
    reference = reference_entry("modules", "shredder")
    assert after.throughput_kg_h == reference["throughput_kg_h"]
    assert after.provenance["throughput_kg_h"] == reference["provenance"]["throughput_kg_h"]


async def test_delete_is_refused_while_recipes_use_it_and_undo_brings_the_row_back(
    client, factory, owner_engine, count_rows
):
    owner = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    materials = await _ids(owner_engine, "waste_materials", owner.org_id)
    base = f"/o/{owner.org_slug}/catalog/materials"
    used = materials["food_waste"]
    refused = await client.post(
        f"{base}/{used}/delete", form={"csrf_token": token}, headers=HX | {"HX-Target": f"item-{used}"}
    )
    assert refused.status_code == 409 and "Recipes still use Food waste" in await refused.get_data(as_text=True)
    target = materials["urine_brine"]  # once its one recipe (R11, the brine processor's) is gone, nothing uses it
    recipes = await _ids(owner_engine, "processing_recipes", owner.org_id)
    brine_recipe = recipes["process_brine"]
    gone = await client.post(f"/o/{owner.org_slug}/catalog/recipes/{brine_recipe}/delete", form={"csrf_token": token},
                             headers=HX | {"HX-Target": f"item-{brine_recipe}"})  # fmt: skip
    assert gone.status_code == 200
    deleted = await client.post(
        f"{base}/{target}/delete", form={"csrf_token": token}, headers=HX | {"HX-Target": f"item-{target}"}
    )
    assert deleted.status_code == 200 and "was deleted" in await deleted.get_data(as_text=True)
    assert await count_rows("waste_materials", "id = :i AND deleted_at IS NOT NULL", i=target) == 1
    listing = await (await client.get(base)).get_data(as_text=True)
    assert "Recently deleted (1)" in listing
    back = await client.post(
        f"{base}/{target}/restore", form={"csrf_token": token}, headers=HX | {"HX-Target": f"item-{target}"}
    )
    assert back.status_code == 200 and f'id="item-{target}"' in await back.get_data(as_text=True)
    assert await count_rows("waste_materials", "id = :i AND deleted_at IS NULL", i=target) == 1


async def test_crew_log_maintenance_but_cannot_edit_the_catalog(client, factory, owner_engine):
    owner = await factory.org_with_owner()
    crew = await factory.member(owner)
    token = await login(client, crew.email, crew.password)
    module = (await _ids(owner_engine, "processing_modules", owner.org_id))["hmc"]
    url = f"/o/{owner.org_slug}/catalog/modules/{module}"
    page = await (await client.get(url)).get_data(as_text=True)
    assert "Add to the log" in page and "Reset to reference" not in page
    logged = await client.post(
        f"{url}/maintenance",
        headers=HX,
        form={"csrf_token": token, "kind": "failure", "status": "failed", "downtime_h": "3", "note": "Heater tripped"},
    )
    html = await logged.get_data(as_text=True)
    assert logged.status_code == 200 and "Heater tripped" in html and "pill-failed" in html
    bad = await client.post(
        f"{url}/maintenance",
        headers=HX,
        form={"csrf_token": token, "kind": "gremlins", "status": "", "downtime_h": "-1", "note": ""},
    )
    assert bad.status_code == 422 and "Choose one of" in await bad.get_data(as_text=True)
    edit = await client.post(url, form={"csrf_token": token, "version": "1", "power_kw": "9"})
    assert edit.status_code == 403


async def test_another_organizations_items_are_not_found(client, factory, owner_engine):
    owner = await factory.org_with_owner()
    other = await factory.org_with_owner(name="Other Base")
    token = await login(client, other.email, other.password)
    module = (await _ids(owner_engine, "processing_modules", owner.org_id))["hmc"]
    base = f"/o/{other.org_slug}/catalog/modules/{module}"
    assert (await client.get(base)).status_code == 404
    assert (await client.post(base, form={"csrf_token": token, "version": "1", "power_kw": "9"})).status_code == 404
    assert (await client.post(f"{base}/delete", form={"csrf_token": token})).status_code == 404
    assert (await client.post(f"{base}/maintenance", form={"csrf_token": token, "kind": "note"})).status_code == 404


async def test_a_recipe_blend_is_shown_edited_and_refused_without_a_marked_input(client, factory, owner_engine):
    owner = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    recipe = (await _ids(owner_engine, "processing_recipes", owner.org_id))["hmc_trash_tile"]
    materials = await _ids(owner_engine, "waste_materials", owner.org_id)
    url = f"/o/{owner.org_slug}/catalog/recipes/{recipe}"
    shown = await (await client.get(url)).get_data(as_text=True)
    assert "marked “share” (Food packaging, Miscellaneous plastics) make up at least 20 % of it" in shown
    editing = await (await client.get(f"{url}/edit", headers=HX)).get_data(as_text=True)
    assert 'name="blend_min_share"' in editing and 'value="0.2"' in editing
    assert editing.count('<option value="1" selected>Counts</option>') == 2  # the two plastics

    def body(share: str, marks: dict, version: str = "1") -> str:
        lines = [
            ("input", f"m:{materials['paper']}", "1.2", marks.get("paper", "")),
            ("input", f"m:{materials['misc_plastics']}", "0.8", marks.get("misc_plastics", "")),
            ("output", "r:hmc_tile", "1.6", ""),
            ("output", "r:loss", "0.4", ""),
        ]
        pairs = [("csrf_token", token), ("version", version), ("blend_min_share", share)]
        names = ("line_direction", "line_item", "line_kg", "line_blend")
        return urlencode(pairs + [(n, v) for line in lines for n, v in zip(names, line, strict=True)])

    unmarked = await client.post(url, data=body("0.5", {}), headers=HX | FORM)
    assert unmarked.status_code == 422
    assert "Mark the inputs that count toward the blend" in await unmarked.get_data(as_text=True)
    saved = await client.post(url, data=body("0.3", {"misc_plastics": "1"}), headers=HX | FORM)
    assert saved.status_code in (200, 204, 303)
    shown = await (await client.get(url)).get_data(as_text=True)
    assert "marked “share” (Miscellaneous plastics) make up at least 30 % of it" in shown
    async with owner_engine.connect() as conn:
        share = (
            await conn.execute(text(f"SELECT blend_min_share FROM processing_recipes WHERE id = '{recipe}'"))
        ).scalar()
    assert float(share) == 0.3
    fixed = await client.post(url, data=body("", {"misc_plastics": "1"}, version="2"), headers=HX | FORM)
    assert fixed.status_code in (200, 204, 303)
    assert "may be mixed" not in await (await client.get(url)).get_data(as_text=True)
