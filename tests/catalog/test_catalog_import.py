"""CSV import of waste materials and modules: the whole file is checked first; a broken row in the middle
imports nothing and names its row and column; a clean file creates new keys and updates existing ones; an
export imports back unchanged."""

from __future__ import annotations

from sqlalchemy import text

from tests.helpers import login

HEADER = "key,name,category,generation_kg_per_cm_day,moisture_fraction,density_kg_m3,hazardous\n"


async def _upload(client, url: str, token: str, content: str, filename: str = "materials.csv"):
    import io

    from werkzeug.datastructures import FileStorage

    upload = FileStorage(io.BytesIO(content.encode()), filename=filename, content_type="text/csv")
    return await client.post(url, form={"csrf_token": token}, files={"file": upload})


async def _materials(owner_engine, org_id) -> dict:
    async with owner_engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT key, generation_kg_per_cm_day, hazardous, provenance FROM waste_materials "
                "WHERE organization_id = :o AND deleted_at IS NULL"
            ),
            {"o": org_id},
        )
        return {r.key: r for r in rows}


async def test_a_broken_row_in_the_middle_imports_nothing(client, factory, owner_engine):
    owner = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    url = f"/o/{owner.org_slug}/catalog/materials/import"
    assert "Required columns" in await (await client.get(url)).get_data(as_text=True)
    before = await _materials(owner_engine, owner.org_id)
    broken = HEADER + (
        "suit_liner,Suit liner,textile,0.02,0,150,no\n"
        "food_waste,Food waste,food,0.2,0.6,abc,maybe\n"  # row 3: density and hazardous are wrong
        ",Battery cells,other,0.001,,2000,yes\n"
        "suit_liner,Suit liner again,textile,0.01,0,150,no\n"
    )  # row 5: a key already on row 2
    response = await _upload(client, url, token, broken)
    html = await response.get_data(as_text=True)
    assert response.status_code == 422 and "nothing was imported" in html
    assert '<td class="num">3</td><td><code>density_kg_m3</code></td><td>Enter a number, e.g. 0.25.</td>' in html
    assert '<td class="num">3</td><td><code>hazardous</code></td><td>Write yes or no.</td>' in html
    assert "The key suit_liner is already on row 2." in html
    assert await _materials(owner_engine, owner.org_id) == before  # not even the good rows landed

    bad_header = await _upload(client, url, token, "name,colour\nX,red\n")
    text_ = await bad_header.get_data(as_text=True)
    assert (
        bad_header.status_code == 422
        and "missing column(s): category" in text_
        and "unknown column(s): colour" in text_
    )

    fixed = HEADER + (
        "suit_liner,Suit liner,textile,0.02,0,150,no\n"
        "food_waste,Food waste,food,0.2,0.6,950,yes\n"
        ",Battery cells,other,0.001,,2000,yes\n"
    )
    done = await _upload(client, url, token, fixed)
    assert done.status_code == 303
    flash_page = await (await client.get(done.headers["Location"])).get_data(as_text=True)
    assert "2 added, 1 updated" in flash_page
    after = await _materials(owner_engine, owner.org_id)
    assert set(after) == set(before) | {"suit_liner", "battery_cells"}
    assert float(after["food_waste"].generation_kg_per_cm_day) == 0.2 and after["food_waste"].hazardous is True
    assert after["food_waste"].provenance["generation_kg_per_cm_day"] == {"basis": "estimate", "note": "set by hand"}
    async with owner_engine.connect() as conn:
        audited = (
            await conn.execute(
                text("SELECT count(*) FROM audit_logs WHERE organization_id = :o AND action = 'waste_material.import'"),
                {"o": owner.org_id},
            )
        ).scalar()
    assert audited == 3


async def test_an_export_imports_back_unchanged(client, factory, owner_engine):
    owner = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    base = f"/o/{owner.org_slug}/catalog/modules"
    exported = await (await client.get(f"{base}/export.csv")).get_data(as_text=True)
    response = await _upload(client, f"{base}/import", token, exported, "modules.csv")
    assert response.status_code == 303
    page = await (await client.get(response.headers["Location"])).get_data(as_text=True)
    assert "0 added, 0 updated, 8 unchanged" in page
