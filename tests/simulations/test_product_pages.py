"""Product pages: record in the modal (validation changes nothing), list filters/search/sort/load more/CSV,
inline correction with a conflict row on a stale version, delete with Undo, another organization's record."""

from __future__ import annotations

import csv
import io

from tests.helpers import login

HX = {"HX-Request": "true"}


async def _mission(client, slug, token, name="Mars Settlement Alpha") -> str:
    created = await client.post(
        f"/o/{slug}/missions",
        form={"csrf_token": token, "name": name, "destination": "mars", "crew_size": "4", "status": "planning"},
    )
    return created.headers["Location"].rsplit("/", 1)[1]


async def test_record_list_correct_and_delete_products(client, factory, count_rows):
    owner = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    slug = owner.org_slug
    alpha, beta = await _mission(client, slug, token), await _mission(client, slug, token, "Lunar Base Beta")
    base = f"/o/{slug}/products"
    empty = await (await client.get(base)).get_data(as_text=True)
    assert "No products yet" in empty
    modal = await (await client.get(f"{base}/new?mission_id={alpha}", headers=HX)).get_data(as_text=True)
    assert '<form id="product-form"' in modal and f'<option selected value="{alpha}">' in modal
    bad = await client.post(
        base,
        headers=HX,
        form={
            "csrf_token": token,
            "mission_id": alpha,
            "product_type": "loss",
            "quantity_kg": "-1",
            "produced_at": "2999-01-01",
            "recipe_id": "",
            "notes": "",
        },
    )
    html = await bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Must be more than 0 kg" in html and "Pick a year between" in html
    assert "Choose one of: plastic_flakes" in html
    assert await count_rows("products", "organization_id = :o", o=owner.org_id) == 0
    for mission, kind, kg in ((alpha, "brick", "4.9"), (alpha, "water", "0.35"), (beta, "brick", "3.9")):
        made = await client.post(
            base,
            form={
                "csrf_token": token,
                "mission_id": mission,
                "product_type": kind,
                "quantity_kg": kg,
                "produced_at": "2026-01-15",
                "recipe_id": "",
                "notes": f"{kind} from the {mission[:4]} press",
            },
        )
        assert made.status_code == 303
    bricks = await (await client.get(f"{base}?product_type=brick&sort=quantity_kg:asc")).get_data(as_text=True)
    assert bricks.index("3.9") < bricks.index("4.9") and "0.35" not in bricks
    only_alpha = await client.get(f"{base}?mission_id={alpha}", headers=HX | {"HX-Target": "product-results"})
    text_ = await only_alpha.get_data(as_text=True)
    assert "Lunar Base Beta" not in text_ and "<html" not in text_ and "4.9" in text_
    assert (await client.get(f"{base}?mission_id=nope")).status_code == 400
    first = await (await client.get(f"{base}?limit=2")).get_data(as_text=True)
    cursor = first.split("cursor=")[1].split('"')[0].replace("&amp;", "&")
    more = await (await client.get(f"{base}?limit=2&cursor={cursor}", headers=HX)).get_data(as_text=True)
    assert more.count('<tr id="product-') == 1
    found = await (await client.get(f"{base}?q=water")).get_data(as_text=True)
    assert "0.35" in found and "4.9" not in found
    records = list(
        csv.DictReader(
            io.StringIO(await (await client.get(f"{base}/export.csv?product_type=brick")).get_data(as_text=True))
        )
    )
    assert sorted(float(r["quantity_kg"]) for r in records) == [3.9, 4.9]

    product = first.split('<tr id="product-')[1].split('"')[0]
    row = HX | {"HX-Target": f"product-{product}"}
    editing = await (await client.get(f"{base}/{product}/edit", headers=row)).get_data(as_text=True)
    assert 'class="editing"' in editing
    form = {
        "csrf_token": token,
        "version": "1",
        "quantity_kg": "5.5",
        "produced_at": "2026-01-15",
        "notes": "re-weighed",
    }
    saved = await client.post(f"{base}/{product}", form=form, headers=row)
    assert saved.status_code == 200 and "5.5" in await saved.get_data(as_text=True)
    stale = await client.post(f"{base}/{product}", form=form | {"quantity_kg": "7"}, headers=row)
    html = await stale.get_data(as_text=True)
    assert stale.status_code == 409 and "Someone saved this record" in html
    theirs_and_mine = '<th scope="row">Quantity (kg)</th><td>5.5</td><td>7</td>'
    assert theirs_and_mine in html and "Produced on</th>" not in html  # only what really differs: 5.5 vs 7
    assert "Keep mine" in html and "Use theirs" in html
    deleted = await client.post(f"{base}/{product}/delete", form={"csrf_token": token}, headers=row)
    assert "was deleted" in await deleted.get_data(as_text=True)
    assert await count_rows("products", "id = :i AND deleted_at IS NOT NULL", i=product) == 1
    undone = await client.post(f"{base}/{product}/restore", form={"csrf_token": token}, headers=row)
    assert undone.status_code == 200 and await count_rows("products", "id = :i AND deleted_at IS NULL", i=product) == 1
    detail = await (await client.get(f"{base}/{product}")).get_data(as_text=True)
    assert "5.5 kg of" in detail and "re-weighed" in detail

    other = await factory.org_with_owner(name="Other Base")
    await client.post("/logout", form={"csrf_token": token})
    other_token = await login(client, other.email, other.password)
    assert (await client.get(f"/o/{other.org_slug}/products/{product}")).status_code == 404
    assert (
        await client.post(f"/o/{other.org_slug}/products/{product}/delete", form={"csrf_token": other_token})
    ).status_code == 404
