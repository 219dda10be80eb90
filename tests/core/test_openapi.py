"""The OpenAPI document describes every JSON route, with request bodies where a route takes one."""


async def test_openapi_lists_every_json_route_with_its_body(app):
    client = app.test_client()
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = await response.get_json()
    documented = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule == "/api/v1/openapi.json":
            continue
        path = rule.rule
        for converter in ("uuid:", "int:"):
            path = path.replace(f"<{converter}", "<")
        path = path.replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, f"{method} {path} missing from OpenAPI"
    login = document["paths"]["/api/v1/auth/login"]["post"]
    schema = login["requestBody"]["content"]["application/json"]["schema"]
    properties = schema.get("properties") or document["components"]["schemas"][schema["$ref"].split("/")[-1]]["properties"]
    assert {"email", "password", "organization", "totp"} <= set(properties)


async def test_every_json_write_documents_its_body(app):
    document = await (await app.test_client().get("/api/v1/openapi.json")).get_json()
    # writes that take no body: the path says everything
    bodiless = {("/api/v1/auth/logout", "post"), ("/api/v1/organizations/{target_id}/restore", "post"),
                ("/api/v1/organizations/{org_id}/invitations/{invitation_id}/resend", "post"),
                ("/api/v1/missions/{mission_id}/restore", "post"), ("/api/v1/products/{product_id}/restore", "post"),
                ("/api/v1/simulation-runs/{run_id}/cancel", "patch"), ("/api/v1/simulation-runs/{run_id}/rerun", "post")}
    bodiless |= {(f"/api/v1/{kind}/{{item_id}}/{action}", "post") for action in ("restore", "reset")
                 for kind in ("waste-materials", "processing-modules", "processing-recipes")}
    missing = [f"{method.upper()} {path}" for path, item in document["paths"].items()
               for method, operation in item.items()
               if path.startswith("/api/v1/") and method in ("post", "patch") and "requestBody" not in operation
               and (path, method) not in bodiless]
    assert missing == []
