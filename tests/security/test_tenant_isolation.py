"""Every organization-scoped route with another organization's object answers 404, exactly like a missing one.

The routes come from the URL map; each id parameter is filled with a real object of another organization
(or a random id), the caller being the owner of their own organization."""
from __future__ import annotations

import uuid
from urllib.parse import urlencode

from sqlalchemy import text

from tests.helpers import login

MISSING = "0190f0f0-0000-7000-8000-000000000000"


async def _objects_of(owner_engine, org_id) -> dict[str, str]:
    """One object of each kind an org route can name, all belonging to `org_id`."""
    queries = {
        "user_id": "SELECT user_id FROM memberships WHERE organization_id = :o AND deleted_at IS NULL",
        "role_id": "SELECT id FROM roles WHERE organization_id = :o AND NOT is_system",
        "assignment_id": "SELECT id FROM role_assignments WHERE organization_id = :o",
        "invitation_id": "SELECT id FROM invitations WHERE organization_id = :o",
        "key_id": "SELECT id FROM api_keys WHERE organization_id = :o",
        "activation_id": "SELECT id FROM break_glass_activations WHERE organization_id = :o",
        "check_id": "SELECT id FROM system_checks WHERE organization_id = :o",
        "mission_id": "SELECT id FROM missions WHERE organization_id = :o",
        "crew_id": "SELECT id FROM mission_crew WHERE organization_id = :o",
        "product_id": "SELECT id FROM products WHERE organization_id = :o",
        "run_id": "SELECT id FROM simulation_runs WHERE organization_id = :o",
        "materials": "SELECT id FROM waste_materials WHERE organization_id = :o",
        "modules": "SELECT id FROM processing_modules WHERE organization_id = :o",
        "recipes": "SELECT id FROM processing_recipes WHERE organization_id = :o",
    }
    found = {}
    async with owner_engine.connect() as conn:
        for name, sql in queries.items():
            found[name] = str((await conn.execute(text(sql + " LIMIT 1"), {"o": org_id})).scalar_one())
    return found


async def _populate(owner_engine, org_id, owner_id) -> None:
    """Give an organization one of everything (straight SQL: the point here is the reading side)."""
    async with owner_engine.begin() as conn:
        params = {"o": org_id, "u": owner_id}
        await conn.execute(text(
            "INSERT INTO roles (id, organization_id, key, name, permissions, break_glass) VALUES "
            "(gen_random_uuid(), :o, 'emergency', 'Emergency', ARRAY['ops:run'], true)"), params)
        membership = (await conn.execute(text("SELECT id FROM memberships WHERE organization_id = :o"), params)).scalar_one()
        role = (await conn.execute(text("SELECT id FROM roles WHERE organization_id = :o AND key = 'emergency'"),
                                   params)).scalar_one()
        viewer = (await conn.execute(text("SELECT id FROM roles WHERE organization_id = :o AND key = 'viewer'"),
                                     params)).scalar_one()
        extra = {**params, "m": membership, "r": role, "v": viewer}
        await conn.execute(text("INSERT INTO role_assignments (id, organization_id, membership_id, user_id, role_id) "
                                "VALUES (gen_random_uuid(), :o, :m, :u, :v)"), extra)
        await conn.execute(text("INSERT INTO invitations (id, organization_id, email, role_id, token_hash, expires_at) "
                                "VALUES (gen_random_uuid(), :o, 'someone@example.org', :v, gen_random_uuid()::text::bytea, "
                                "now() + interval '1 day')"), extra)
        await conn.execute(text("INSERT INTO api_keys (id, organization_id, membership_id, user_id, name, prefix, key_hash, "
                                "permissions) VALUES (gen_random_uuid(), :o, :m, :u, 'k', 'cl_live_abcdef', "
                                "gen_random_uuid()::text::bytea, ARRAY['ops:read'])"), extra)
        await conn.execute(text("INSERT INTO break_glass_activations (id, organization_id, membership_id, user_id, role_id, "
                                "reason, minutes) VALUES (gen_random_uuid(), :o, :m, :u, :r, "
                                "'a long enough emergency reason', 60)"), extra)
        await conn.execute(text("INSERT INTO system_checks (id, organization_id) VALUES (gen_random_uuid(), :o)"), params)
        mission = (await conn.execute(text(
            "INSERT INTO missions (id, organization_id, name, destination, crew_size) "
            "VALUES (gen_random_uuid(), :o, 'Artemis Base', 'moon', 4) RETURNING id"), params)).scalar_one()
        await conn.execute(text("INSERT INTO mission_crew (id, organization_id, mission_id, membership_id, user_id, "
                                "crew_role) VALUES (gen_random_uuid(), :o, :mission, :m, :u, 'commander')"),
                           extra | {"mission": mission})
        await conn.execute(text("INSERT INTO products (id, organization_id, mission_id, product_type, quantity_kg) "
                                "VALUES (gen_random_uuid(), :o, :mission, 'brick', 4.9)"), params | {"mission": mission})
        await conn.execute(text("INSERT INTO simulation_runs (id, organization_id, mission_id, name, run_type, config, "
                                "input_snapshot, engine_version, seed) VALUES (gen_random_uuid(), :o, :mission, 'Plan', "
                                "'mass_balance', '{}', '{}', '1.0.0', 1)"), params | {"mission": mission})


def _choices(rule) -> dict[str, str]:
    """The first option of each `<any(a, b):name>` argument (an action, a catalog kind)."""
    found = {}
    for part in rule.rule.split("<any(")[1:]:
        options, _, rest = part.partition(")")
        found[rest[1:rest.index(">")]] = options.split(",")[0].strip()
    return found


def _org_routes(app):
    for rule in app.url_map.iter_rules():
        args = set(rule.arguments)
        if not ({"org_slug", "org_id"} & args):
            continue
        id_args = args - {"org_slug", "org_id"} - set(_choices(rule))
        if not id_args:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method, id_args


def _item_kind(rule, choices: dict) -> str:
    """Which catalog kind an `item_id` names: the route's kind argument, or the segment before it."""
    if "kind" in choices:
        return choices["kind"]
    return next(k for k in ("modules", "recipes", "materials") if f"/{k}/" in rule.rule)


def _path(rule, values: dict) -> str:
    path = rule.rule
    for name in rule.arguments:
        converter_free = [part for part in (f"<{name}>", f"<uuid:{name}>") if part in path]
        if converter_free:
            path = path.replace(converter_free[0], values[name])
        else:  # e.g. <any(approve, deny, end):action>
            start = path.index("<any(")
            end = path.index(">", start)
            path = path[:start] + values[name] + path[end + 1:]
    return path


async def test_another_organizations_objects_are_404_like_missing_ones_on_every_route(app, client, factory,
                                                                                       owner_engine):
    mine = await factory.org_with_owner()
    theirs = await factory.org_with_owner()
    await _populate(owner_engine, mine.org_id, mine.id)
    await _populate(owner_engine, theirs.org_id, theirs.id)
    foreign = await _objects_of(owner_engine, theirs.org_id)
    own_viewer = (await _objects_of(owner_engine, mine.org_id))["role_id"]
    token = await login(client, mine.email, mine.password)

    checked, leaks = 0, []
    for rule, method, id_args in _org_routes(app):
        choices = _choices(rule)
        base = {"org_slug": mine.org_slug, "org_id": str(mine.org_id)} | choices
        theirs_ids = {a: foreign[_item_kind(rule, choices) if a == "item_id" else a] for a in id_args}
        other = _path(rule, {**base, **theirs_ids})
        missing = _path(rule, {**base, **{a: MISSING for a in id_args}})
        form = {"csrf_token": token, "role_id": own_viewer, "version": "1", "name": "x", "notes": "long enough notes"}
        responses = []
        for path in (other, missing):
            if method == "GET":
                response = await client.get(path)
            elif path.startswith("/api/"):
                response = await client.open(path, method=method, headers={"X-CSRF-Token": token},
                                             json={"version": 1, "role_id": own_viewer, "name": "x"})
            else:
                response = await client.open(path, method=method, data=urlencode(form),
                                              headers={"Content-Type": "application/x-www-form-urlencoded",
                                                       "X-CSRF-Token": token})
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
    assert (await _objects_of(owner_engine, theirs.org_id)) == foreign
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
            other, missing = rule.rule.replace("<org_slug>", theirs.org_slug), rule.rule.replace("<org_slug>", "no-such-org")
        else:
            other = rule.rule.replace("<uuid:org_id>", str(theirs.org_id))
            missing = rule.rule.replace("<uuid:org_id>", MISSING)
        first, second = await client.get(other), await client.get(missing)
        assert (first.status_code, second.status_code) == (404, 404), rule.rule
        if rule.rule.startswith("/api/"):
            assert await first.get_json() == await second.get_json()
        checked += 1
    assert checked >= 8
