"""Every organization-scoped route with another organization's object answers 404, exactly like a missing one.

The routes come from the URL map; each id parameter is filled with a real object of another organization
(or a random id), the caller being the owner of their own organization."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from tests.helpers import login
from tests.routes import any_choices, fill, object_key, objects_of, populate

MISSING = "0190f0f0-0000-7000-8000-000000000000"


def _org_routes(app):
    for rule in app.url_map.iter_rules():
        args = set(rule.arguments)
        if not ({"org_slug", "org_id"} & args):
            continue
        id_args = args - {"org_slug", "org_id"} - set(any_choices(rule))
        if not id_args:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method, id_args


# JSON bodies a route's schema accepts, tried in turn, so the request gets past the body check to the lookup
BODIES = [
    {},
    {"version": 1},
    {"version": 1, "role_id": None},
    {"kind": "note"},
    {"run_type": "mass_balance"},
    {"user_id": MISSING, "role": "pilot"},
    {"since": "2026-01-01T00:00:00Z"},
]


def path_is_api(path: str) -> bool:
    return path.startswith("/api/")


async def _body_that_fits(client, method: str, path: str, token: str, own_role: str) -> dict | None:
    """The first candidate body this route's schema accepts (it then answers about the object, not the body)."""
    if method in ("GET", "DELETE"):
        return None
    for candidate in BODIES:
        body = {k: (own_role if k == "role_id" else v) for k, v in candidate.items()}
        response = await client.open(path, method=method, headers={"X-CSRF-Token": token}, json=body)
        answer = await response.get_json()
        if not (response.status_code == 422 and answer["details"].get("source") == "schema"):
            return body
    raise AssertionError(f"no candidate body fits {method} {path}")


async def test_another_organizations_objects_are_404_like_missing_ones_on_every_route(
    app, client, factory, owner_engine
):
    mine = await factory.org_with_owner()
    theirs = await factory.org_with_owner()
    await populate(owner_engine, mine.org_id, mine.id)
    await populate(owner_engine, theirs.org_id, theirs.id)
    foreign = await objects_of(owner_engine, theirs.org_id)
    own_viewer = (await objects_of(owner_engine, mine.org_id))["role_id"]
    token = await login(client, mine.email, mine.password)

    checked, leaks = 0, []
    for rule, method, id_args in _org_routes(app):
        choices = any_choices(rule)
        base = {"org_slug": mine.org_slug, "org_id": str(mine.org_id)} | choices
        theirs_ids = {a: foreign[object_key(rule, choices, a)] for a in id_args}
        other = fill(rule, {**base, **theirs_ids})
        missing = fill(rule, {**base, **{a: MISSING for a in id_args}})
        form = {"csrf_token": token, "role_id": own_viewer, "version": "1", "name": "x", "notes": "long enough notes"}
        body = await _body_that_fits(client, method, missing, token, own_viewer) if path_is_api(missing) else None
        responses = []
        for path in (other, missing):
            if method == "GET":
                response = await client.get(path)
            elif path.startswith("/api/"):
                response = await client.open(path, method=method, headers={"X-CSRF-Token": token}, json=body)
            else:
                response = await client.open(
                    path,
                    method=method,
                    data=urlencode(form),
                    headers={"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": token},
                )
            responses.append((response.status_code, await response.get_data(as_text=True)))
        checked += 1
        (status, body), (missing_status, missing_body) = responses
        if status != 404 or missing_status != 404:
            leaks.append((method, rule.rule, status, missing_status))
        elif rule.rule.startswith("/api/") and body != missing_body:
            leaks.append((method, rule.rule, "bodies differ"))
    assert checked >= 15
    assert leaks == []
    # and nothing of theirs changed
    assert (await objects_of(owner_engine, theirs.org_id)) == foreign
    assert uuid.UUID(foreign["user_id"]) == theirs.id


async def test_another_organizations_slug_or_id_is_404_like_a_missing_one(app, client, factory):
    mine = await factory.org_with_owner()
    theirs = await factory.org_with_owner()
    await login(client, mine.email, mine.password)
    checked = 0
    for rule in app.url_map.iter_rules():
        args = set(rule.arguments)
        if "GET" not in rule.methods or args not in ({"org_slug"}, {"org_id"}):
            continue
        if args == {"org_slug"}:
            other, missing = (
                rule.rule.replace("<org_slug>", theirs.org_slug),
                rule.rule.replace("<org_slug>", "no-such-org"),
            )
        else:
            other = rule.rule.replace("<uuid:org_id>", str(theirs.org_id))
            missing = rule.rule.replace("<uuid:org_id>", MISSING)
        first, second = await client.get(other), await client.get(missing)
        assert (first.status_code, second.status_code) == (404, 404), rule.rule
        if rule.rule.startswith("/api/"):
            assert await first.get_json() == await second.get_json()
        checked += 1
    assert checked >= 8
