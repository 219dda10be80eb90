"""The URL map filled with real objects: one of everything for an organization, and each rule's arguments."""

from __future__ import annotations

import re

from sqlalchemy import text

MISSING = "0190f0f0-0000-7000-8000-000000000000"


async def objects_of(owner_engine, org_id) -> dict[str, str]:
    """One object of each kind an org route can name, all belonging to `org_id`."""
    queries = {
        "user_id": "SELECT user_id FROM memberships WHERE organization_id = :o AND deleted_at IS NULL",
        "role_id": "SELECT id FROM roles WHERE organization_id = :o AND NOT is_system",
        "assignment_id": "SELECT id FROM role_assignments WHERE organization_id = :o",
        "invitation_id": "SELECT id FROM invitations WHERE organization_id = :o",
        "key_id": "SELECT id FROM api_keys WHERE organization_id = :o",
        "activation_id": "SELECT id FROM break_glass_activations WHERE organization_id = :o",
        "check_id": "SELECT id FROM system_checks WHERE organization_id = :o",
        # the mission with a crew first: routes name a crew member together with their mission
        "mission_id": "SELECT m.id FROM missions m WHERE organization_id = :o"
        " ORDER BY EXISTS (SELECT 1 FROM mission_crew c WHERE c.mission_id = m.id) DESC",
        "crew_id": "SELECT id FROM mission_crew WHERE organization_id = :o AND mission_id = CAST(:mission_id AS uuid)",
        "product_id": "SELECT id FROM products WHERE organization_id = :o",
        "run_id": "SELECT id FROM simulation_runs WHERE organization_id = :o",
        "materials": "SELECT id FROM waste_materials WHERE organization_id = :o",
        "modules": "SELECT id FROM processing_modules WHERE organization_id = :o",
        "recipes": "SELECT id FROM processing_recipes WHERE organization_id = :o",
        "comment_id": "SELECT id FROM comments WHERE organization_id = :o",
        "job_id": "SELECT id FROM search_reindex_jobs WHERE organization_id = :o",
        "attachment_id": "SELECT id FROM attachments WHERE organization_id = :o",
        "checkout_id": "SELECT id FROM billing_checkouts WHERE organization_id = :o",
        "invoice_id": "SELECT id FROM billing_invoices WHERE organization_id = :o",
        "payment_id": "SELECT id FROM billing_payments WHERE organization_id = :o",
        "grant_id": "SELECT id FROM support_access_grants WHERE organization_id = :o",
        "endpoint_id": "SELECT id FROM webhook_endpoints WHERE organization_id = :o",
        "delivery_id": "SELECT id FROM webhook_deliveries WHERE organization_id = :o",
    }
    found = {}
    async with owner_engine.connect() as conn:
        for name, sql in queries.items():
            params = {"o": org_id} | ({"mission_id": found["mission_id"]} if ":mission_id" in sql else {})
            found[name] = str((await conn.execute(text(sql + " LIMIT 1"), params)).scalar_one())
    return found


async def populate(owner_engine, org_id, owner_id) -> None:
    """Give an organization one of everything (straight SQL: the point here is the reading side)."""
    async with owner_engine.begin() as conn:
        params = {"o": org_id, "u": owner_id}
        await conn.execute(
            text(
                "INSERT INTO roles (id, organization_id, key, name, permissions, break_glass) VALUES "
                "(gen_random_uuid(), :o, 'emergency', 'Emergency', ARRAY['ops:run'], true)"
            ),
            params,
        )
        membership = (
            await conn.execute(text("SELECT id FROM memberships WHERE organization_id = :o"), params)
        ).scalar_one()
        role = (
            await conn.execute(text("SELECT id FROM roles WHERE organization_id = :o AND key = 'emergency'"), params)
        ).scalar_one()
        viewer = (
            await conn.execute(text("SELECT id FROM roles WHERE organization_id = :o AND key = 'viewer'"), params)
        ).scalar_one()
        extra = {**params, "m": membership, "r": role, "v": viewer}
        await conn.execute(
            text(
                "INSERT INTO role_assignments (id, organization_id, membership_id, user_id, role_id) "
                "VALUES (gen_random_uuid(), :o, :m, :u, :v)"
            ),
            extra,
        )
        await conn.execute(  # a paying subscriber, through the sandbox
            text(
                "UPDATE billing_subscriptions SET provider = 'sandbox', "
                "provider_subscription_id = 'sub_' || CAST(:o AS text), "
                "provider_customer_id = 'cus_' || CAST(:o AS text), provider_seats = seats WHERE organization_id = :o"
            ),
            extra,
        )
        await conn.execute(
            text(
                "INSERT INTO billing_payments (id, organization_id, product, description, quantity, unit_price_minor, "
                "amount_minor, provider, provider_payment_id) VALUES (gen_random_uuid(), :o, 'simulation_credits', "
                "'2 x 1,000 simulation credits', 2, 1000, 2000, 'sandbox', 'pi_test_' || gen_random_uuid())"
            ),
            extra,
        )
        await conn.execute(  # support access the organization granted
            text(
                "INSERT INTO support_access_grants (id, organization_id, granted_by, expires_at) "
                "VALUES (gen_random_uuid(), :o, :u, now() + interval '7 days')"
            ),
            params,
        )
        await conn.execute(  # credits: a grant, and a run's hold under way
            text(
                "INSERT INTO credit_accounts (organization_id, balance, held) VALUES (:o, 5000, 300) "
                "ON CONFLICT (organization_id) DO UPDATE SET balance = credit_accounts.balance + 5000, "
                "held = credit_accounts.held + 300"  # the plan's credits came with the organization
            ),
            extra,
        )
        await conn.execute(
            text(
                "INSERT INTO credit_holds (id, organization_id, amount, subject, description) "
                "VALUES (gen_random_uuid(), :o, 300, 'simulation_run:example', 'Simulation run (example)')"
            ),
            extra,
        )
        await conn.execute(
            text(
                "INSERT INTO tenant_credit_ledger (id, organization_id, kind, amount, held_change, balance_after, "
                "held_after, idempotency_key, reason) VALUES (gen_random_uuid(), :o, 'grant', 5000, 0, 5000, 0, "
                "'grant:routes', 'welcome credits'), (gen_random_uuid(), :o, 'hold', 0, 300, 5000, 300, "
                "'hold:simulation_run:example', 'Simulation run (example)')"
            ),
            extra,
        )
        await conn.execute(
            text(
                "INSERT INTO billing_checkouts (id, organization_id, plan_id, interval, seats, provider, "
                "provider_checkout_id, expires_at) SELECT gen_random_uuid(), :o, id, 'month', 5, 'sandbox', "
                "'cs_test_' || gen_random_uuid(), now() + interval '1 hour' FROM billing_plans "
                "WHERE key = 'crew' AND status = 'current'"
            ),
            extra,
        )
        await conn.execute(
            text(
                "INSERT INTO billing_invoices (id, organization_id, subscription_id, status, plan_id, period_start, "
                "period_end, subscription_amount, total_amount, number, finalized_at) SELECT gen_random_uuid(), :o, "
                "id, 'paid', plan_id, now(), now() + interval '1 month', 4900, 4900, "
                "(SELECT coalesce(max(number), 0) + 1 FROM billing_invoices WHERE organization_id = :o), now() "
                "FROM billing_subscriptions WHERE organization_id = :o"
            ),
            extra,
        )
        await conn.execute(
            text(
                "INSERT INTO invitations (id, organization_id, email, role_id, token_hash, expires_at) "
                "VALUES (gen_random_uuid(), :o, 'someone@example.org', :v, gen_random_uuid()::text::bytea, "
                "now() + interval '1 day')"
            ),
            extra,
        )
        await conn.execute(
            text(
                "INSERT INTO api_keys (id, organization_id, membership_id, user_id, name, prefix, key_hash, "
                "permissions) VALUES (gen_random_uuid(), :o, :m, :u, 'k', 'cl_live_abcdef', "
                "gen_random_uuid()::text::bytea, ARRAY['ops:read'])"
            ),
            extra,
        )
        await conn.execute(
            text(
                "INSERT INTO break_glass_activations (id, organization_id, membership_id, user_id, role_id, "
                "reason, minutes) VALUES (gen_random_uuid(), :o, :m, :u, :r, "
                "'a long enough emergency reason', 60)"
            ),
            extra,
        )
        await conn.execute(
            text("INSERT INTO system_checks (id, organization_id) VALUES (gen_random_uuid(), :o)"), params
        )
        mission = (
            await conn.execute(
                text(
                    "INSERT INTO missions (id, organization_id, name, destination, crew_size) "
                    "VALUES (gen_random_uuid(), :o, 'Artemis Base', 'moon', 4) RETURNING id"
                ),
                params,
            )
        ).scalar_one()
        await conn.execute(
            text(
                "INSERT INTO mission_crew (id, organization_id, mission_id, membership_id, user_id, "
                "crew_role) VALUES (gen_random_uuid(), :o, :mission, :m, :u, 'commander')"
            ),
            extra | {"mission": mission},
        )
        await conn.execute(
            text(
                "INSERT INTO products (id, organization_id, mission_id, product_type, quantity_kg) "
                "VALUES (gen_random_uuid(), :o, :mission, 'brick', 4.9)"
            ),
            params | {"mission": mission},
        )
        await conn.execute(
            text(
                "INSERT INTO simulation_runs (id, organization_id, mission_id, name, run_type, config, "
                "input_snapshot, engine_version, seed) VALUES (gen_random_uuid(), :o, :mission, 'Plan', "
                "'mass_balance', '{}', '{}', '1.0.0', 1)"
            ),
            params | {"mission": mission},
        )
        await conn.execute(
            text(
                "INSERT INTO comments (id, organization_id, entity_type, entity_id, author_id, content, content_html) "
                "VALUES (gen_random_uuid(), :o, 'missions', :mission, :u, 'Hello', '<p>Hello</p>')"
            ),
            params | {"mission": mission},
        )
        stored = (
            await conn.execute(
                text(
                    "INSERT INTO stored_objects (id, organization_id, checksum_sha256, size, content_type, "
                    "storage_key) VALUES (gen_random_uuid(), :o, repeat('a', 64), 3, 'text/plain', "
                    "'t/x/sha256/' || repeat('a', 64)) RETURNING id"
                ),
                params,
            )
        ).scalar_one()
        await conn.execute(
            text(
                "INSERT INTO attachments (id, organization_id, filename, declared_type, content_type, size, "
                "checksum_sha256, status, object_id, entity_type, entity_id, uploaded_by, expires_at) "
                "VALUES (gen_random_uuid(), :o, 'notes.txt', 'text/plain', 'text/plain', 3, repeat('a', 64), "
                "'ready', :s, 'missions', :mission, :u, now() + interval '1 hour')"
            ),
            params | {"mission": mission, "s": stored},
        )
        await conn.execute(
            text(
                "INSERT INTO search_reindex_jobs (id, organization_id, status) "
                "VALUES (gen_random_uuid(), :o, 'succeeded')"
            ),
            params,
        )
        # a webhook endpoint with one failed delivery and its attempt (failed: the live sweep leaves it alone)
        await conn.execute(
            text("""
                WITH endpoint AS (
                    INSERT INTO webhook_endpoints (id, organization_id, url, description, created_by_user_id)
                    VALUES (gen_random_uuid(), :o, 'https://hooks.example.org/closedloop', 'Ops bridge', :u)
                    RETURNING id
                ), secret AS (
                    INSERT INTO webhook_secrets (id, organization_id, endpoint_id, secret_encrypted, hint)
                    SELECT gen_random_uuid(), :o, id, 'sealed', 'whsec_abcd…' FROM endpoint
                ), message AS (
                    INSERT INTO webhook_messages (id, organization_id, event_type, payload)
                    VALUES (gen_random_uuid(), :o, 'mission.created',
                            '{"type": "mission.created", "timestamp": "2031-01-01T00:00:00Z", "data": {}}')
                    RETURNING id
                ), delivery AS (
                    INSERT INTO webhook_deliveries (id, organization_id, message_id, endpoint_id, status, attempts,
                                                    last_status_code, finished_at)
                    SELECT gen_random_uuid(), :o, message.id, endpoint.id, 'failed', 1, 500, now()
                    FROM message, endpoint RETURNING id, endpoint_id
                )
                INSERT INTO webhook_attempts (id, organization_id, delivery_id, endpoint_id, attempt, trigger, url,
                                              response_status, response_excerpt, succeeded, duration_ms)
                SELECT gen_random_uuid(), :o, id, endpoint_id, 1, 'schedule', 'https://hooks.example.org/closedloop',
                       500, 'Internal Server Error', false, 42 FROM delivery
            """),
            params,
        )


def any_choices(rule) -> dict[str, str]:
    """The first option of each `<any(a, b):name>` argument (an action, a catalog kind)."""
    found = {}
    for part in rule.rule.split("<any(")[1:]:
        options, _, rest = part.partition(")")
        found[rest[1 : rest.index(">")]] = options.split(",")[0].strip().strip('"')
    return found


# which object an `entity_id` names, by the route's entity_type (webapp.core.entities)
ENTITY_OBJECTS = {
    "missions": "mission_id",
    "crew-assignments": "crew_id",
    "waste-materials": "materials",
    "processing-modules": "modules",
    "processing-recipes": "recipes",
    "simulation-runs": "run_id",
    "products": "product_id",
}


def object_key(rule, choices: dict, argument: str) -> str:
    """The objects_of() key an id argument of `rule` takes its value from."""
    if argument == "item_id":
        return item_kind(rule, choices)
    if argument == "entity_id":
        return ENTITY_OBJECTS[choices["entity_type"]]
    return argument


def item_kind(rule, choices: dict) -> str:
    """Which catalog kind an `item_id` names: the route's kind argument, or the segment before it."""
    if "kind" in choices:
        return choices["kind"]
    return next(k for k in ("modules", "recipes", "materials") if f"/{k}/" in rule.rule or f"-{k}/" in rule.rule)


def fill(rule, values: dict) -> str:
    """The rule's path with each `<converter:name>` (`<any(a, b):kind>` too) replaced by values[name]."""
    return re.sub(r"<(?:[^<>]*:)?(\w+)>", lambda m: str(values[m.group(1)]), rule.rule)


def path_for(rule, base: dict, objects: dict, id_value: str | None = None) -> str:
    """`rule` with org arguments from `base`, the first option of each choice, and each id argument filled with
    `objects` (one of each kind) or `id_value`."""
    choices = any_choices(rule)
    values = dict(base) | choices
    for name in set(rule.arguments) - set(values):
        values[name] = id_value or objects.get(object_key(rule, choices, name), MISSING)
    return fill(rule, values)
