"""The OpenAPI document is a contract: exactly the /api/v1 routes of the URL map, real paths with typed parameters,
unique operation ids, a response for every status a route answers (errors with the error body), security, enums."""

from __future__ import annotations

import re

from webapp.core.entities import KINDS
from webapp.core.openapi import API_PREFIX, api_rules, path_of

METHODS = {"get", "post", "put", "patch", "delete"}


async def _document(app) -> dict:
    response = await app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return await response.get_json()


async def test_the_document_lists_exactly_the_json_api_of_the_url_map(app):
    document = await _document(app)
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    routed = {
        (path_of(rule), method.lower())
        for rule in api_rules(app.url_map)
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert documented == routed
    assert all(path.startswith(API_PREFIX) for path, _ in documented)
    assert not any("<" in path or ":" in path for path, _ in documented)
    # nothing of the HTML side leaks in
    assert not [
        r for r in app.url_map.iter_rules() if path_of(r) in document["paths"] and not r.rule.startswith(API_PREFIX)
    ]


async def test_every_path_parameter_is_declared_and_typed(app):
    document = await _document(app)
    for path, item in document["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            declared = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "path"}
            assert set(declared) == names, (method, path)
            for name, parameter in declared.items():
                assert parameter["required"] is True
                schema = parameter["schema"]
                if name == "org_id":
                    assert re.fullmatch(schema["pattern"], "0190f0f0-0000-7000-8000-000000000000")
                    assert re.fullmatch(schema["pattern"], "lunar-outpost")
                elif name == "entity_type":  # the registry's kinds, as an enum
                    assert schema == {"type": "string", "enum": sorted(KINDS)}, path
                elif name == "provider":  # the payment providers whose webhooks are taken
                    assert schema == {"type": "string", "enum": ["dodo", "polar", "sandbox", "stripe"]}, path
                else:
                    assert schema == {"type": "string", "format": "uuid"}, (path, name)


async def test_operations_are_unique_documented_and_answer_with_the_error_body(app):
    document = await _document(app)
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    error_ref = {"$ref": "#/components/schemas/Error"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            assert any(s[0] in "23" for s in statuses), (method, path)  # a 303 to a file's link is a success
            errors = [s for s in statuses if s[0] in "45"]
            # only a public read with nothing to get wrong (no path id, query or body) has no error to document
            assert errors or not (operation["security"] or "{" in path or operation.get("parameters")), (method, path)
            for status in errors:
                assert operation["responses"][status]["content"]["application/json"]["schema"] == error_ref
            if operation["security"]:
                assert {"401", "403"} <= statuses, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= statuses, (method, path)
            if "{" in path:
                assert "404" in statuses, (method, path)


async def test_lists_declare_their_filters_sorts_and_paging(app):
    document = await _document(app)
    missions = {p["name"]: p for p in document["paths"]["/api/v1/organizations/{org_id}/missions"]["get"]["parameters"]}
    assert {"status", "destination", "q", "sort", "limit", "cursor"} <= set(missions)
    assert {"planning", "active", "completed", "aborted"} <= set(missions["status"]["schema"]["enum"])
    assert "name:asc" in missions["sort"]["schema"]["enum"] and missions["limit"]["schema"]["maximum"] == 100
    products = [
        p
        for p in document["paths"]["/api/v1/missions/{mission_id}/products"]["get"]["parameters"]
        if p["in"] == "query"
    ]
    names = {p["name"] for p in products}
    assert "kind" in names and "mission_id" not in names  # the path names the mission


async def test_security_servers_bodies_and_enums(app):
    document = await _document(app)
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert document["servers"] and document["openapi"].startswith("3.1")
    login = document["paths"]["/api/v1/auth/login"]["post"]
    assert login["security"] == [] and {"201", "401", "429"} <= set(login["responses"])
    bound = document["paths"]["/api/v1/missions/{mission_id}"]["get"]
    assert bound["security"] == [{"bearer": []}]  # routes naming no organization: the credential does
    schemas = document["components"]["schemas"]
    mission_in = schemas["MissionIn"]
    assert mission_in["additionalProperties"] is False and "destination" in mission_in["required"]
    assert schemas["Destination"]["enum"] == ["moon", "mars", "transit"]
    assert schemas["MissionOut"]["properties"]["id"]["format"] == "uuid"
    created = document["paths"]["/api/v1/organizations/{org_id}/missions"]["post"]["responses"]["201"]
    assert "Location" in created["headers"]
    assert created["links"]["getMission"]["parameters"] == {"mission_id": "$response.body#/id"}
    writes_without_body = [
        f"{m} {p}"
        for p, item in document["paths"].items()
        for m, op in item.items()
        if m in ("post", "patch", "put") and "requestBody" not in op
    ]
    assert all(
        re.search(
            r"/(restore|reset|resend|rerun|cancel|logout|exit|rebuild-search|webhooks/{provider}|rotate-secret|test"
            r"|replay)$",
            w,
        )
        for w in writes_without_body
    ), writes_without_body


async def test_browsable_docs_are_served_from_vendored_assets(client):
    page = await client.get("/api/v1/docs")
    html = await page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-openapi="/api/v1/openapi.json"' in html
    sources = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in sources
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))]  # no CDN
    for source in sources:
        assert (await client.get(source)).status_code == 200, source
