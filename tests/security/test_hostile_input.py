"""Hostile values thrown at every write route, JSON and HTML form, get a 400/422 with the usual error body naming
the field — never a 500 — and write nothing. The routes come from the URL map, the JSON fields from the OpenAPI
document, so a new route is covered the day it is added."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import quote

from sqlalchemy import text

from tests.conftest import csrf_from
from tests.helpers import api_key_headers, login
from tests.routes import objects_of, path_for, populate
from webapp.core.edge import MAX_JSON_DEPTH
from webapp.core.permissions import Perm

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# tables a request may touch without writing anything of the caller's: their own session and key bookkeeping
# session bookkeeping, and the security record refused requests leave on purpose: their events, the incidents the
# detection rules make of a burst of them (with those incidents' audit rows), and the chain heads that follow
BOOKKEEPING = {"auth_sessions", "api_keys", "api_sessions", "security_events", "security_incidents",
               "security_incident_activity", "security_incident_events", "security_incident_organizations",
               "audit_chain_heads", "audit_verifications"}  # fmt: skip

ENCODINGS = {
    "latin-1 bytes": '{"name": "Caf\xe9"}'.encode("latin-1"),
    "utf-16 with BOM": '{"name": "x"}'.encode("utf-16"),
    "utf-16-le": '{"name": "x"}'.encode("utf-16-le"),
    "utf-8 with BOM": '\ufeff{"name": "x"}'.encode(),
    "truncated utf-8": b'{"name": "\xe2\x82"}',
    "deep nesting": ('{"a":' * 100_000 + "1" + "}" * 100_000).encode(),
    "just past the depth limit": ('{"name":' + "[" * MAX_JSON_DEPTH + "1" + "]" * MAX_JSON_DEPTH + "}").encode(),
    "NaN": b'{"quantity_kg": NaN}',
    "overflowing float": b'{"quantity_kg": 1e999}',
}


async def _settle_background(app) -> None:
    """Do now what the live scheduler would do in the next minutes, so the snapshot does not move under the test
    for reasons of its own: flush the API calls the setup made (counted in Redis) and roll them up, and reap the
    system checks earlier tests left queued without a message (the reaper fails them after ten minutes)."""
    from webapp.ops import service as checks
    from webapp.usage import rollup, self_metering

    state = app.extensions["closedloop"]
    maker, redis, namespace = state["sessionmaker"], state["redis"], state["settings"].redis_namespace
    await self_metering.flush_api_calls(maker, redis, namespace)
    await rollup.roll_up(maker)
    await checks.reap_abandoned_checks(maker, redis, namespace, now=datetime.now(UTC) + checks.STALE_QUEUED)


async def _snapshot(owner_engine) -> dict:
    """Row count and newest update of every table but session bookkeeping."""
    found = {}
    async with owner_engine.connect() as conn:
        tables = (
            await conn.execute(
                text(
                    "SELECT c.relname, EXISTS (SELECT 1 FROM information_schema.columns i "
                    "WHERE i.table_name = c.relname "
                    "AND i.column_name = 'updated_at') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
                )
            )
        ).all()
        for table, has_updated in tables:
            if table in BOOKKEEPING or table == "alembic_version":
                continue
            newest = ", max(updated_at)" if has_updated else ""
            only = " WHERE entity_type <> 'security_incident'" if table == "audit_logs" else ""
            found[table] = tuple((await conn.execute(text(f'SELECT count(*){newest} FROM "{table}"{only}'))).one())
    return found


def _string_fields(document: dict, schema: dict) -> dict[str, dict]:
    """The request schema's top-level properties ($refs resolved)."""
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema.get("properties", {})


def _operation(document: dict, rule, method: str) -> dict:
    path = rule.rule
    for name in rule.arguments:
        for form in (f"<uuid:{name}>", f"<{name}>"):
            path = path.replace(form, "{" + name + "}")
    return document["paths"].get(path, {}).get(method.lower(), {})


async def _setup(app, client, factory, owner_engine):
    owner = await factory.org_with_owner()
    await populate(owner_engine, owner.org_id, owner.id)
    objects = await objects_of(owner_engine, owner.org_id)
    key = await api_key_headers(client, owner, [str(p) for p in Perm])
    page = await client.get(f"/o/{owner.org_slug}/missions")
    return owner, objects, key, csrf_from(await page.get_data(as_text=True))


async def test_every_json_write_refuses_hostile_bodies(app, client, factory, owner_engine, settings):
    owner, objects, key, token = await _setup(app, client, factory, owner_engine)
    document = await (await client.get("/api/v1/openapi.json")).get_json()
    base = {"org_slug": owner.org_slug, "org_id": str(owner.org_id), "target_id": str(owner.org_id)}
    await _settle_background(app)
    before = await _snapshot(owner_engine)

    sent, wrong = 0, []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/api/v1/", "/internal/")):
            continue
        path = path_for(rule, base, objects)
        org_in_path = {"org_id", "target_id"} & set(rule.arguments)
        auth = {"X-CSRF-Token": token} if org_in_path or rule.rule.startswith(("/api/v1/me", "/api/v1/auth")) else key
        if rule.rule.startswith("/internal/"):  # service routes: their own credential, their one field
            auth = {"Authorization": f"Bearer {settings.internal_tokens(rule.rule.split('/')[2])[0]}"}
        for method in sorted(rule.methods & WRITES):
            bodies = dict(ENCODINGS)
            properties = (
                {"events": {}}
                if rule.rule.startswith("/internal/usage")
                else _string_fields(
                    document,
                    (_operation(document, rule, method).get("requestBody") or {})
                    .get("content", {})
                    .get("application/json", {})
                    .get("schema", {}),
                )
            )
            for field in properties:
                bodies[f"NUL in {field}"] = (json.dumps({field: "moon\u0000base"}).encode(), field)
                bodies[f"lone surrogate in {field}"] = (b'{"' + field.encode() + b'": "moon\\ud800base"}', field)
                bodies[f"NUL in a key inside {field}"] = (json.dumps({field: {"a\u0000": 1}}).encode(), field)
                for kind, value in (("list", [1, {"a": [None]}]), ("object", {"target": ["brick"], "x": {}})):
                    bodies[f"{kind} as {field}"] = (json.dumps({field: value}).encode(), None)
            for label, body in bodies.items():
                raw, field = body if isinstance(body, tuple) else (body, None)
                response = await client.open(
                    path, method=method, data=raw, headers=auth | {"Content-Type": "application/json"}
                )
                sent += 1
                status = response.status_code
                answer = await response.get_json(force=True, silent=True) or {}
                if status not in (400, 404, 422) and not (field is None and status in (401, 403, 409)):
                    wrong.append((method, rule.rule, label, status))
                elif set(answer) != {"error", "message", "details"}:
                    wrong.append((method, rule.rule, label, "not the error body"))
                elif (
                    field
                    and status == 422
                    and not any(k.split(".")[0] == field for k in answer["details"].get("fields", {}))
                ):
                    wrong.append((method, rule.rule, label, "field not named", answer["details"]))
    assert wrong == []
    assert sent > 1000
    assert await _snapshot(owner_engine) == before


async def test_every_form_refuses_nul_characters(app, client, factory, owner_engine):
    owner, objects, key, token = await _setup(app, client, factory, owner_engine)
    base = {"org_slug": owner.org_slug, "org_id": str(owner.org_id)}
    await _settle_background(app)
    before = await _snapshot(owner_engine)
    fields = ("name", "description", "notes", "email", "reason", "password", "q")
    checked, wrong = 0, []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") or not rule.methods & WRITES:
            continue
        path = path_for(rule, base, objects)
        for method in sorted(rule.methods & WRITES):
            for where in ("value", "key"):
                form = {"csrf_token": token} | {
                    (f"{f}\u0000" if where == "key" else f): ("ok" if where == "key" else "moon\u0000base")
                    for f in fields
                }
                for content_type, body in _encoded(form):
                    response = await client.open(
                        path,
                        method=method,
                        data=body,
                        headers={"Content-Type": content_type, "Accept": "application/json"},
                    )
                    checked += 1
                    answer = await response.get_json(force=True, silent=True) or {}
                    named = set(answer.get("details", {}).get("fields", {}))
                    if response.status_code != 422 or not named:
                        wrong.append((method, rule.rule, where, content_type, response.status_code))
    assert wrong == []
    assert checked > 100
    assert await _snapshot(owner_engine) == before


def _encoded(form: dict) -> list[tuple[str, bytes]]:
    """The same form urlencoded and as multipart."""
    urlencoded = "&".join(f"{quote(k)}={quote(v)}" for k, v in form.items()).encode()
    boundary = "----closedloop"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in form.items()]
    multipart = ("".join(parts) + f"--{boundary}--\r\n").encode()
    return [("application/x-www-form-urlencoded", urlencoded), (f"multipart/form-data; boundary={boundary}", multipart)]


async def test_query_parameters_with_nul_are_refused(client, factory):
    owner = await factory.org_with_owner()
    await login(client, owner.email, owner.password)
    for path in (
        f"/o/{owner.org_slug}/missions?q=a%00b",
        f"/api/v1/organizations/{owner.org_id}/missions?q=a%00b",
        f"/o/{owner.org_slug}/products?q=%00",
        "/login?next=%00",
    ):
        response = await client.get(path, headers={"Accept": "application/json"})
        assert response.status_code == 400, path
        assert "q" in (await response.get_json())["details"]["fields"] or "next" in path
    nul_path = await client.get("/o/a%00b/missions")
    assert nul_path.status_code == 400
