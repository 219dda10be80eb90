"""Every list route, HTML and JSON, answers a filter value outside its vocabulary (and a bad sort, limit or cursor)
with a 400 naming what it accepts — never a 500. The routes and their filters come from the URL map."""

from __future__ import annotations

from urllib.parse import urlencode

from tests.helpers import api_key_headers, login
from tests.routes import objects_of, path_for, populate
from webapp.core.listing import listing_of

BAD_ID = "not-an-id"
BAD_CHOICE = "exploded"


def _list_routes(app):
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        if getattr(app.view_functions[rule.endpoint], "_closedloop_listing", None) is not None:
            yield rule


async def test_every_list_filter_refuses_values_outside_its_vocabulary(app, client, factory, owner_engine):
    owner = await factory.org_with_owner()
    await populate(owner_engine, owner.org_id, owner.id)
    objects = await objects_of(owner_engine, owner.org_id)
    key = await api_key_headers(client, owner, ["missions:read", "products:read", "catalog:read"])
    base = {"org_slug": owner.org_slug, "org_id": str(owner.org_id)}
    staff = app.test_client()  # staff-only lists (every organization's audit log) are read by staff
    member = await factory.platform_admin()
    await login(staff, member.email, member.password)

    checked, wrong = set(), []
    for rule in _list_routes(app):
        path = path_for(rule, base, objects)
        _, view_args = app.url_map.bind("localhost").match(path, method="GET")
        listing = listing_of(app.view_functions[rule.endpoint], view_args)
        api = path.startswith("/api/")
        # routes without the organization in the path serve bound credentials (an API key) only
        staff_only = path.startswith(("/admin/", "/api/v1/audit/", "/api/v1/security/"))
        reader = staff if staff_only else client
        headers = key if api and not staff_only and not ({"org_id", "org_slug"} & set(rule.arguments)) else {}
        ok = await reader.get(path, headers=headers)
        assert ok.status_code == 200, (rule.rule, ok.status_code)
        bad_values = {
            name: BAD_ID if f.is_id else BAD_CHOICE
            for name, f in listing.filters.items()
            if (f.is_id or f.choices) and name not in rule.arguments
        }  # the path's own id wins
        bad_values["sort"] = "colour:sideways"
        if not path.endswith(".csv"):  # an export is the whole filtered list: it takes no page size or cursor
            bad_values |= {"limit": "many", "cursor": "%%%"}
        for name, value in bad_values.items():
            response = await reader.get(
                f"{path}?{urlencode({name: value})}", headers=headers | ({"Accept": "application/json"} if api else {})
            )
            body = await response.get_data(as_text=True)
            if response.status_code != 400:
                wrong.append((rule.rule, name, response.status_code))
            elif name in listing.filters:
                choices = listing.filters[name].choices
                named = "an id" if listing.filters[name].is_id else choices[0]
                if named not in body:
                    wrong.append((rule.rule, name, "the answer does not name the accepted values"))
            checked.add((rule.rule, name))
    assert wrong == []
    rules = {r for r, _ in checked}
    assert {
        "/o/<org_slug>/missions",
        "/o/<org_slug>/missions/export.csv",
        "/o/<org_slug>/products",
        "/api/v1/organizations/<org:org_id>/missions",
        "/api/v1/organizations/<org:org_id>/products",
        "/api/v1/organizations/<org:org_id>/modules",
        "/api/v1/missions/<uuid:mission_id>/products",
    } <= rules
    assert ("/o/<org_slug>/missions", "destination") in checked and ("/o/<org_slug>/missions", "status") in checked


async def test_missions_api_names_the_choices(client, factory):
    owner = await factory.org_with_owner()
    await login(client, owner.email, owner.password)
    for name, value, expected in (("status", "exploded", "planning"), ("destination", "pluto", "mars")):
        response = await client.get(f"/api/v1/organizations/{owner.org_id}/missions?{name}={value}")
        body = await response.get_json()
        assert response.status_code == 400 and body["error"] == "BadRequest"
        assert expected in body["message"] and expected in body["details"]["fields"][name][0]
