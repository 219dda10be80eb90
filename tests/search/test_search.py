"""Search: an entity is found right after its write and gone right after its soft delete; websearch syntax with a
prefix on the last word; ranking (title above body); highlighted, escaped snippets; kind and tag filters; cursor
pages; only the caller's organization and the kinds they may read; the re-index builds what live maintenance
wrote; the header box and the results page."""

from __future__ import annotations

from sqlalchemy import text

from tests.helpers import api_key_headers, login
from tests.missions.test_missions_api import MISSION
from webapp.core.tenancy import scope_session
from webapp.search import service as search_service

EVERYTHING = [
    "missions:read",
    "missions:write",
    "catalog:read",
    "catalog:write",
    "products:read",
    "products:write",
    "simulations:read",
]


async def _hits(client, auth, **params) -> list[dict]:
    answer = await client.get("/api/v1/search", headers=auth, query_string=params)
    assert answer.status_code == 200, await answer.get_json()
    return (await answer.get_json())["items"]


async def _titles(client, auth, q: str, **params) -> list[str]:
    return [h["title"] for h in await _hits(client, auth, q=q, **params)]


async def test_found_after_write_gone_after_delete_back_after_restore(client, factory):
    owner = await factory.org_with_owner()
    auth = await api_key_headers(client.app.test_client(), owner, EVERYTHING)
    created = await client.post(
        f"/api/v1/organizations/{owner.org_id}/missions",
        headers=auth,
        json=MISSION | {"name": "Jezero Regolith Works", "description": "Sintered bricks for the landing pad"},
    )
    mission = await created.get_json()

    async def _missions(client, auth, q):  # the reference catalog has bricks and regolith too
        return await _titles(client, auth, q, entity_type="missions")

    assert await _missions(client, auth, "jezero") == ["Jezero Regolith Works"]
    assert await _missions(client, auth, "jez") == ["Jezero Regolith Works"]  # the last word is a prefix
    assert await _missions(client, auth, "brick") == ["Jezero Regolith Works"]  # english stemming: bricks
    assert await _missions(client, auth, '"landing pad"') == ["Jezero Regolith Works"]
    assert await _missions(client, auth, '"pad landing"') == []
    assert await _missions(client, auth, "jezero -sintered") == []
    assert await _missions(client, auth, "nothingatall or jezero") == ["Jezero Regolith Works"]

    renamed = await client.patch(
        f"/api/v1/missions/{mission['id']}", headers=auth, json={"name": "Gale Crater Kilns", "version": 1}
    )
    assert renamed.status_code == 200
    assert await _missions(client, auth, "jezero") == []
    assert await _missions(client, auth, "kilns") == ["Gale Crater Kilns"]

    assert (await client.delete(f"/api/v1/missions/{mission['id']}", headers=auth)).status_code == 204
    assert await _missions(client, auth, "kilns") == []
    assert (await client.post(f"/api/v1/missions/{mission['id']}/restore", headers=auth)).status_code == 200
    assert await _missions(client, auth, "kilns") == ["Gale Crater Kilns"]


async def test_ranking_snippets_filters_and_pages(client, factory):
    owner = await factory.org_with_owner()
    auth = await api_key_headers(client.app.test_client(), owner, EVERYTHING)
    base = f"/api/v1/organizations/{owner.org_id}/missions"
    await client.post(base, headers=auth, json=MISSION | {"name": "Filament Lab", "tags": ["Print", "#isru"]})
    await client.post(
        base,
        headers=auth,
        json=MISSION
        | {
            "name": "Habitat Nine",
            "description": "Spare <b>filament</b> spools & <script>x</script>",
            "tags": ["print"],
        },
    )
    hits = await _hits(client, auth, q="filament", entity_type="missions")
    assert [h["title"] for h in hits] == ["Filament Lab", "Habitat Nine"]  # a title match outranks a body match
    assert hits[0]["title_html"] == "<mark>Filament</mark> Lab" and hits[0]["tags"] == ["print", "isru"]
    snippet = hits[1]["snippet_html"]
    assert snippet.startswith("Spare &lt;b&gt;<mark>filament</mark>&lt;/b&gt; spools &amp; &lt;script&gt;")
    assert [h["url"] for h in hits] == [f"/o/{owner.org_slug}/missions/{h['entity_id']}" for h in hits]

    # tags: a filter alone, with words, several at once; a tag word is found by a plain query too
    assert {h["title"] for h in await _hits(client, auth, tags="print")} == {"Filament Lab", "Habitat Nine"}
    assert [h["title"] for h in await _hits(client, auth, tags="print,isru")] == ["Filament Lab"]
    assert [h["title"] for h in await _hits(client, auth, q="habitat", tags="print")] == ["Habitat Nine"]
    assert await _titles(client, auth, "isru", entity_type="missions") == ["Filament Lab"]

    # kinds: the reference catalog holds a filament extruder; entity_type narrows to one kind
    found = await _hits(client, auth, q="extruder")
    extruder = {(h["entity_type"], h["title"]) for h in found}
    module = next(h for h in found if h["entity_type"] == "processing-modules")
    assert module["url"] == f"/o/{owner.org_slug}/catalog/modules/{module['entity_id']}"  # each kind its own page
    assert {("processing-modules", "Filament extruder"), ("processing-recipes", "Extrude filament")} <= extruder
    modules = await _hits(client, auth, q="extruder", entity_type="processing-modules")
    assert [h["title"] for h in modules][0] == "Filament extruder"  # the title match first
    only = await _hits(client, auth, q="filament", entity_type="missions")
    assert {h["entity_type"] for h in only} == {"missions"}
    assert {h["entity_type"] for h in modules} == {"processing-modules"}
    bad = await client.get("/api/v1/search", headers=auth, query_string={"q": "x", "entity_type": "asteroids"})
    assert bad.status_code == 422 and "entity_type" in (await bad.get_json())["details"]["fields"]

    # cursor pages cover every hit once, best first
    for i in range(5):
        await client.post(base, headers=auth, json=MISSION | {"name": f"Outpost {i}", "description": "outpost"})
    first = await (
        await client.get("/api/v1/search", headers=auth, query_string={"q": "outpost", "limit": 3})
    ).get_json()
    second = await (
        await client.get(
            "/api/v1/search", headers=auth, query_string={"q": "outpost", "limit": 3, "cursor": first["next_cursor"]}
        )
    ).get_json()
    titles = [h["title"] for h in first["items"] + second["items"]]
    assert sorted(titles) == [f"Outpost {i}" for i in range(5)] and second["next_cursor"] is None
    ranks = [h["rank"] for h in first["items"] + second["items"]]
    assert ranks == sorted(ranks, reverse=True)
    forged = await client.get("/api/v1/search", headers=auth, query_string={"q": "outpost", "cursor": "bm90IGpzb24"})
    assert forged.status_code in (400, 422)
    # odd input never breaks the query
    for q in ['"', "-", "or", "a & b | !c", "(((", "x" * 200, "\u0000", "'; drop table missions; --"]:
        answer = await client.get("/api/v1/search", headers=auth, query_string={"q": q})
        assert answer.status_code in (200, 400, 422), q
    assert (await client.get("/api/v1/search", headers=auth, query_string={"q": "x" * 201})).status_code == 400


async def test_only_the_callers_organization_and_readable_kinds(app, client, factory):
    mine = await factory.org_with_owner()
    theirs = await factory.org_with_owner()
    my_auth = await api_key_headers(app.test_client(), mine, EVERYTHING)
    their_auth = await api_key_headers(app.test_client(), theirs, EVERYTHING)
    await client.post(
        f"/api/v1/organizations/{theirs.org_id}/missions", headers=their_auth, json=MISSION | {"name": "Secret Vault"}
    )
    assert await _titles(client, my_auth, "secret vault") == []
    assert await _titles(client, their_auth, "secret vault") == ["Secret Vault"]
    wrong_org = await client.get(
        "/api/v1/search", headers=my_auth, query_string={"q": "vault", "org_id": str(theirs.org_id)}
    )
    assert wrong_org.status_code == 404
    assert (
        await client.get(f"/api/v1/organizations/{theirs.org_id}/search", headers=my_auth, query_string={"q": "x"})
    ).status_code == 404
    # a key that reads missions only finds no catalog items
    missions_only = await api_key_headers(app.test_client(), mine, ["missions:read"])
    assert await _hits(client, missions_only, q="extruder") == []
    assert await _hits(client, my_auth, q="extruder") != []


async def test_reindex_builds_what_live_maintenance_wrote(client, factory, maker, owner_engine):
    owner = await factory.org_with_owner()
    auth = await api_key_headers(client.app.test_client(), owner, EVERYTHING)
    base = f"/api/v1/organizations/{owner.org_id}/missions"
    mission = await (await client.post(base, headers=auth, json=MISSION | {"tags": ["alpha"]})).get_json()
    await client.post(
        "/api/v1/products",
        headers=auth,
        json={"mission_id": mission["id"], "product_type": "water", "quantity_kg": 2, "notes": "from urine"},
    )
    gone = await (await client.post(base, headers=auth, json=MISSION | {"name": "Scrapped"})).get_json()
    await client.delete(f"/api/v1/missions/{gone['id']}", headers=auth)
    columns = "entity_type, entity_id, mission_id, title, body, tags, tags_text, search_vector::text"
    query = text(f"SELECT {columns} FROM search_index WHERE organization_id = :o ORDER BY entity_type, entity_id")

    async def rows():
        async with owner_engine.connect() as conn:
            return (await conn.execute(query, {"o": owner.org_id})).all()

    live = await rows()
    assert len(live) > 10 and not any(r.title == "Scrapped" for r in live)
    async with maker() as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        async with session.begin():
            await session.execute(text("DELETE FROM search_index WHERE organization_id = :o"), {"o": owner.org_id})
            counts = await search_service.reindex_organization(session, owner.org_id)
    assert sum(counts.values()) == len(live)
    assert await rows() == live


async def test_header_search_and_results_page(client, factory):
    owner = await factory.org_with_owner()
    auth = await api_key_headers(client.app.test_client(), owner, EVERYTHING)
    await client.post(
        f"/api/v1/organizations/{owner.org_id}/missions",
        headers=auth,
        json=MISSION | {"name": "Olympus Mons Depot", "tags": ["depot"]},
    )
    await login(client, owner.email, owner.password)
    home = await (await client.get(f"/o/{owner.org_slug}/")).get_data(as_text=True)
    assert 'role="combobox"' in home and 'id="header-q"' in home
    suggest = await client.get(f"/o/{owner.org_slug}/search/suggest?q=olymp", headers={"HX-Request": "true"})
    html = await suggest.get_data(as_text=True)
    assert 'role="listbox"' in html and "<mark>Olympus</mark> Mons Depot" in html and "Missions" in html
    nothing = await (
        await client.get(f"/o/{owner.org_slug}/search/suggest?q=zzzz", headers={"HX-Request": "true"})
    ).get_data(as_text=True)
    assert "Nothing matches" in nothing
    page = await (await client.get(f"/o/{owner.org_slug}/search?q=depot&type=missions")).get_data(as_text=True)
    assert "<h1>Search</h1>" in page and "Olympus Mons <mark>Depot</mark>" in page
    tagged = await (await client.get(f"/o/{owner.org_slug}/search?tag=depot")).get_data(as_text=True)
    assert "Olympus Mons Depot" in tagged
    listed = await (await client.get(f"/o/{owner.org_slug}/missions?tag=depot")).get_data(as_text=True)
    assert "Olympus Mons Depot" in listed and "Mars Settlement Alpha" not in listed
