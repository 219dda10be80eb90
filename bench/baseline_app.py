"""Baselines for the benchmarks: the same pages and JSON built on raw asyncpg with the same templates.

Each route does the work its real counterpart needs — credential lookup by hash, membership, tenant-
scoped reads inside a transaction with app.org_id set, the same template or JSON shape; for API requests the
same Redis work (the rate-limit windows counted in one round trip, the API call metered); on every answer the same
headers (security headers, no-store, request id, rate-limit window) and the request metric — without the ORM or our
pipeline, so each ratio shows what the framework layers cost:
the system-check page, the members page, the API-key members list and the JSON login (argon2id);
for bench/missions.py the missions list page (plain and searched) and the API-key products list.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import asyncpg
from itsdangerous import URLSafeTimedSerializer
from quart import Quart, Response, g, render_template, request

from webapp import create_app
from webapp.apiedge.ratelimit import binding
from webapp.apiedge.ratelimit import headers as rate_headers
from webapp.config import PROJECT_ROOT, load_settings
from webapp.core.forms import choices
from webapp.core.ids import OrgRefConverter
from webapp.core.listing import Sort, prefix_query
from webapp.core.logging import request_id_of
from webapp.core.pagination import encode_cursor
from webapp.core.security_headers import apply_security_headers
from webapp.core.templating import install_template_helpers
from webapp.core.tenancy import RequestContext
from webapp.iam.catalog import role_permissions
from webapp.iam.catalog import system_role_permissions as permissions_for
from webapp.identity.passwords import verify_password
from webapp.missions.enums import Destination, MissionStatus
from webapp.ops.enums import CheckStatus
from webapp.ops.forms import STEP_LABELS, CheckForm
from webapp.ops.metrics import WebMetrics
from webapp.organizations.forms import InviteForm
from webapp.search.queries import HEADLINE, START, STOP, TITLE_HEADLINE, split_query

settings = load_settings()
real = create_app(settings)
app = Quart(__name__, template_folder=str(PROJECT_ROOT / "templates"), static_folder=str(PROJECT_ROOT / "static"))
app.secret_key = settings.secret_key
app.url_map.converters["org"] = OrgRefConverter  # the copied API rules name organizations by id or address
app.config.update(SESSION_COOKIE_SECURE=settings.cookie_secure)
install_template_helpers(app)

_stubs: dict = {}
# the same endpoints exist (as stubs) so url_for() in the shared templates resolves identically
for rule in real.url_map.iter_rules():
    if rule.endpoint not in (
        "static",
        "ops.check_page",
        "organizations.members",
        "organizations_api.list_members",
        "identity_api.login",
        "missions.index",
        "org_products_api.list_products",
        "org_search_api.search_organization",
        "comments_api.complete_upload",
        "webhooks_api.receive_webhook",
        "usage_internal.record_usage",
    ):
        # one stub per endpoint: some endpoints answer on two rules (e.g. POST and PATCH forms)
        stub = _stubs.setdefault(rule.endpoint, lambda **_: ("", 404))
        app.add_url_rule(rule.rule, endpoint=rule.endpoint, view_func=stub, methods=rule.methods)


_CHAINED_AUDIT = (
    "WITH link AS (INSERT INTO audit_chain_heads AS h (chain_key, seq, prev_hash, head_hash) VALUES ($1, 1, $2, $3) "
    "ON CONFLICT (chain_key) DO UPDATE SET seq = h.seq + 1, prev_hash = h.head_hash, updated_at = now(), "
    "head_hash = encode(sha256(convert_to(h.head_hash || ':' || (h.seq + 1)::text || ':' || $4, 'UTF8')), 'hex') "
    "RETURNING seq, prev_hash, head_hash) "
    "INSERT INTO audit_logs (id, created_at, organization_id, actor_user_id, action, entity_type, entity_id, after, "
    "metadata, ip, user_agent, break_glass, chain_seq, prev_hash, content_hash, row_hash) "
    "SELECT $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13::jsonb, $14::inet, $15, false, link.seq, link.prev_hash, "
    "$16, link.head_hash FROM link"
)


async def chained_audit(conn, *, organization_id, actor_user_id, action, entity_type, entity_id, after, metadata,
                        ip, user_agent) -> None:  # fmt: skip
    """An audit row as the app writes one: both hashes by the app's own code, then one statement in which the
    chain's head hands out the next link (its row lock queues other writers) and the row goes in."""
    from webapp.core import audit_chain
    from webapp.core.ids import new_id

    row_id, created = new_id(), datetime.now(UTC)
    content = audit_chain.content_hash(before=None, after=after, metadata=metadata, ip=ip, user_agent=user_agent)
    digest = audit_chain.row_digest(
        id=row_id, created_at=created, organization_id=organization_id, actor_user_id=actor_user_id,
        impersonator_user_id=None, action=action, entity_type=entity_type, entity_id=entity_id, request_id=None,
        break_glass=False, content_hash=content,
    )  # fmt: skip
    await conn.execute(
        _CHAINED_AUDIT, audit_chain.chain_key(organization_id), audit_chain.GENESIS,
        audit_chain.link_hash(audit_chain.GENESIS, 1, digest), digest, row_id, created, organization_id,
        actor_user_id, action, entity_type, entity_id, None if after is None else json.dumps(after),
        json.dumps(metadata), ip, user_agent, content,
    )  # fmt: skip


@app.url_defaults
def _push_org(endpoint, values) -> None:
    ctx = g.get("ctx")
    if ctx and "org_slug" not in values and app.url_map.is_endpoint_expecting(endpoint, "org_slug"):
        values["org_slug"] = ctx.org_slug


_serializer = URLSafeTimedSerializer(
    settings.secret_key, salt="closedloop-session", signer_kwargs={"digest_method": hashlib.sha512}
)
_COOKIE = real.config["QUART_AUTH_COOKIE_NAME"]


class Row(dict):
    """Attribute access for template rows."""

    __getattr__ = dict.__getitem__


_metrics = WebMetrics()


@app.before_request
async def _start() -> None:
    g.started = time.perf_counter()
    g.request_id = request_id_of(request.headers.get("X-Request-ID", ""))


@app.after_request
async def _same_headers(response):
    """What every answer of the app carries (security headers, no-store, request id, the rate-limit window) and the
    request metric it records: part of the work, not of the framework."""
    apply_security_headers(response, hsts=settings.cookie_secure, csp=real.extensions["closedloop"]["csp"])
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["X-Request-ID"] = g.get("request_id", "")
    if (window := g.get("rate_window")) is not None:
        response.headers.update(rate_headers(window))
    route = request.url_rule.rule if request.url_rule else "unmatched"
    _metrics.observe(request.method, route, response.status_code, time.perf_counter() - g.started)
    return response


@app.before_serving
async def _pool() -> None:
    import redis.asyncio as aioredis

    dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    app.pool = await asyncpg.create_pool(dsn, min_size=4, max_size=10, server_settings={"role": settings.app_db_role})
    app.redis = aioredis.from_url(settings.redis_url)


def _setting(key: str, default: str, owner: str) -> str:
    """A setting's effective value as the app reads it on every request: the owner's row, the platform's, the
    registry's default (webapp/settings/columns.py)."""
    scope, column = owner.split(":")
    system = (
        f"(SELECT value #>> '{{}}' FROM settings WHERE key = '{key}' AND scope = 'system'), " if scope == "user" else ""
    )
    return (
        f"coalesce((SELECT value #>> '{{}}' FROM settings WHERE key = '{key}' AND scope = '{scope}' "
        f"AND {'user_id' if scope == 'user' else 'organization_id'} = {column}), {system}'{default}')"
    )


# the session lookup sets app.user_id in its own select list, like the app's, so the settings it reads are the
# person's own under RLS
_PRINCIPAL = (
    "SELECT set_config('app.user_id', s.user_id::text, true), s.id, s.user_id, u.email, u.name, "
    f"{_setting('profile.locale', 'en', 'user:u.id')} AS locale, "
    f"{_setting('profile.timezone', 'UTC', 'user:u.id')} AS timezone "
    "FROM auth_sessions s JOIN users u ON u.id = s.user_id "
    "WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now() AND u.deleted_at IS NULL"
)
_BILLING_LOCKED = (
    "EXISTS (SELECT 1 FROM billing_subscriptions b WHERE b.organization_id = $1 AND b.status = 'past_due' "
    "AND b.past_due_since + make_interval(0, 0, 0, "
    "coalesce((SELECT value #>> '{}' FROM settings WHERE key = 'billing.grace_days' AND scope = 'system'), '14')"
    "::numeric::integer) <= now())"
)
_MEMBERSHIP = (
    "SELECT o.id, o.slug, o.name, r.key AS role, "
    f"{_setting('security.require_mfa', 'false', 'organization:o.id')}::boolean AS require_mfa, "
    # the billing hold, as the app reads it in the same statement (a payment overdue past the grace period)
    + _BILLING_LOCKED.replace("$1", "o.id")
    + " AS billing_locked FROM organizations o "
    "JOIN memberships m ON m.organization_id = o.id "
    "JOIN roles r ON r.id = m.role_id "
    "WHERE o.slug = $1 AND m.user_id = $2 AND o.deleted_at IS NULL AND m.deleted_at IS NULL"
)


async def _enter(conn, org_slug: str):
    """Cookie session -> user -> membership, with app.user_id and app.org_id set for RLS."""
    token = _serializer.loads(request.cookies[_COOKIE])
    digest = hashlib.sha256(token.encode()).digest()
    principal = await conn.fetchrow(_PRINCIPAL, digest)
    org = await conn.fetchrow(_MEMBERSHIP, org_slug, principal["user_id"])
    await conn.execute("SELECT set_config('app.org_id', $1, true)", str(org["id"]))
    return principal, org


_MENTIONS = (
    "SELECT count(*) FROM comment_mentions cm JOIN comments c ON c.organization_id = cm.organization_id "
    "AND c.id = cm.comment_id WHERE cm.organization_id = $1 AND cm.user_id = $2 AND cm.read_at IS NULL "
    "AND c.deleted_at IS NULL"
)
_APPROVALS = (
    "SELECT count(*) FROM break_glass_activations WHERE organization_id = $1 AND status = 'pending' AND user_id <> $2"
)


async def _frame_badges(conn, principal, org) -> dict:
    """The app frame's badges, in one statement as the app counts them on every page: break-glass requests this
    approver could decide, and comments mentioning the viewer they have not read."""
    approvals = f"({_APPROVALS})" if "breakglass:approve" in permissions_for(org["role"]) else "0"
    row = await conn.fetchrow(f"SELECT {approvals}, ({_MENTIONS})", org["id"], principal["user_id"])
    return {"pending_approvals": row[0], "unread_mentions": row[1]}


def _context(principal, org) -> RequestContext:
    return RequestContext(
        user_id=principal["user_id"],
        user_email=principal["email"],
        user_name=principal["name"],
        org_id=org["id"],
        org_slug=org["slug"],
        org_name=org["name"],
        role=org["role"],
        permissions=permissions_for(org["role"]),
        locale=principal["locale"],
        timezone=principal["timezone"],
    )


_MEMBERS = (
    "SELECT u.id AS user_id, u.name, u.email, r.key AS role, m.created_at AS joined_at, r.id AS role_id, "
    "r.name AS role_name, m.version, u.mfa_enabled_at IS NOT NULL AS mfa_enabled, u.status = 'active' AS active "
    "FROM users u JOIN memberships m ON m.user_id = u.id JOIN roles r ON r.id = m.role_id "
    "WHERE m.organization_id = $1 AND m.deleted_at IS NULL AND u.deleted_at IS NULL ORDER BY u.name, u.id"
)


@app.get("/o/<org_slug>/members", endpoint="organizations.members")
async def members_page(org_slug: str):
    async with app.pool.acquire() as conn, conn.transaction():
        principal, org = await _enter(conn, org_slug)
        badges = await _frame_badges(conn, principal, org)
        roles = await conn.fetch(
            "SELECT id, key, name, is_system, permissions, break_glass FROM roles "
            "WHERE organization_id = $1 AND deleted_at IS NULL ORDER BY is_system DESC, name",
            org["id"],
        )
        members = await conn.fetch(_MEMBERS, org["id"])
        invitations = await conn.fetch(
            "SELECT i.id, i.email, i.expires_at, i.send_count, r.name AS role_name, i.expires_at <= now() AS expired "
            "FROM invitations i JOIN roles r ON r.id = i.role_id WHERE i.organization_id = $1 "
            "AND i.accepted_at IS NULL AND i.revoked_at IS NULL ORDER BY i.created_at DESC",
            org["id"],
        )
        # the seat line: the subscription with its plan, and seats taken (members + open invitations)
        plan = await conn.fetchrow(
            "SELECT s.seats, s.status, p.name FROM billing_subscriptions s JOIN billing_plans p ON p.id = s.plan_id "
            "WHERE s.organization_id = $1",
            org["id"],
        )
        taken = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM memberships WHERE organization_id = $1 AND deleted_at IS NULL) AS members, "
            "(SELECT count(*) FROM invitations WHERE organization_id = $1 AND accepted_at IS NULL "
            "AND revoked_at IS NULL AND expires_at > now()) AS pending",
            org["id"],
        )
    g.ctx = _context(principal, org)
    seats = SimpleNamespace(taken=taken["members"] + taken["pending"], pending_invitations=taken["pending"])
    grantable = [
        Row(r)
        for r in roles
        if not r["break_glass"]
        and (r["key"] != "owner" or org["role"] == "owner")
        and role_permissions(r["key"], r["is_system"], r["permissions"]) <= g.ctx.permissions
    ]
    form = InviteForm()
    form.role_id.choices = choices((r["id"], r["name"]) for r in grantable)
    body = await render_template(
        "organizations/members.html",
        members=[Row(m) for m in members],
        roles=grantable,
        invitations=[Row(i) for i in invitations],
        form=form,
        error=None,
        upgrade_url=None,
        seats=seats,
        paid_seats=plan["seats"],
        plan=Row(plan),
        ctx=g.ctx,
        **badges,
        settings=settings,
    )
    return Response(body, content_type="text/html; charset=utf-8")


class _Statement:
    """One of the app's own fixed statements (webapp/core/driver.Prepared), its SQL text compiled once, to run on
    raw asyncpg: the twin sends the very statements the app sends, without the session around them."""

    def __init__(self, prepared) -> None:
        from sqlalchemy.dialects.postgresql.asyncpg import dialect

        prepared._compile(dialect())
        self.prepared, self.sql = prepared, prepared._sql

    def arguments(self, **params) -> list:
        return self.prepared.arguments(params)


def _app_statements() -> tuple[_Statement, _Statement]:
    from webapp.apikeys.service import _BY_DIGEST
    from webapp.organizations.queries import _ENTER_BY

    return _Statement(_BY_DIGEST), _Statement(_ENTER_BY["org_id"])


_KEY_LOOKUP, _ENTER_ORG = _app_statements()


async def _key_scope(conn, org_id, permission: str):
    """API key -> owner's permissions in the organization (None: the key's own, for routes without one in the path),
    with RLS settings; None when not allowed. The same statements and checks as the app: the key by its digest
    (usable, its owner able to sign in), the membership with its organization's state, the MFA requirement, the
    owner's extra role assignments and break-glass elevation, a billing lock — the key never doing more than its
    owner may."""
    from webapp.core.errors import DomainError
    from webapp.organizations.context import enter_org
    from webapp.organizations.queries import OrgMembership

    raw = request.headers["Authorization"].split(" ", 1)[1]
    digest = hashlib.sha256(raw.encode()).digest()
    await conn.execute(
        "SELECT set_config('app.org_id', '', true), set_config('app.user_id', '', true), "
        "set_config('app.bypass_rls', '', true), set_config('app.credential', $1, true)",
        digest.hex(),
    )
    key = await conn.fetchrow(_KEY_LOOKUP.sql, *_KEY_LOOKUP.arguments(digest=digest))
    if key is None:
        return None
    _, _, key_id, key_org, user_id, key_permissions, enabled, expires_at, _, _, _, mfa_enabled, owner_active = key
    usable = enabled and (expires_at is None or expires_at > datetime.now(UTC))
    if not usable or not owner_active or key_org != (org_id or key_org):
        return None
    row = await conn.fetchrow(_ENTER_ORG.sql, *_ENTER_ORG.arguments(user_id=user_id, key=key_org))
    if row is None:
        return None
    *fields, grants, break_glass, _ = row
    membership = OrgMembership(
        *fields, grants=tuple(json.loads(grants)), break_glass=tuple(json.loads(break_glass)) if break_glass else None
    )
    ctx = RequestContext(user_id=user_id, mfa_enabled=mfa_enabled)
    try:
        enter_org(ctx, membership)
    except DomainError:  # suspended, or MFA required of an owner without it
        return None
    if permission not in ctx.permissions & set(key_permissions):
        return None
    # the same Redis work as the app: the key's, person's and organization's windows in one round trip
    windows = await _limiter().hit([("key", str(key_id), BENCH_API_LIMIT), ("user", str(user_id), BENCH_API_LIMIT),
                                    ("organization", str(key_org), BENCH_API_LIMIT)])  # fmt: skip
    g.rate_window = binding(windows)
    if not g.rate_window.allowed:
        return None
    return {"id": key_id, "organization_id": key_org, "user_id": user_id}


BENCH_API_LIMIT = 1_000_000  # bench seeds raise the app's limits to this, so neither side answers 429


def _limiter():
    from webapp.apiedge.ratelimit import ApiLimiter

    if not hasattr(app, "limiter"):
        app.limiter = ApiLimiter(settings.redis_url, settings.redis_namespace)
    return app.limiter


async def _meter(org_id, key) -> None:
    """The API call counted for usage, as the app counts a successful API-key request."""
    from webapp.usage.self_metering import count_api_call

    await count_api_call(app.redis, settings.redis_namespace, org_id, key["id"])


@app.get("/api/v1/organizations/<uuid:org_id>/members", endpoint="organizations_api.list_members")
async def members_json(org_id):
    async with app.pool.acquire() as conn, conn.transaction():
        if (key := await _key_scope(conn, org_id, "members:read")) is None:
            return {"error": "Forbidden"}, 403
        rows = await conn.fetch(_MEMBERS, org_id)
    await _meter(org_id, key)
    return {
        "items": [
            {
                "user_id": str(r["user_id"]),
                "name": r["name"],
                "email": r["email"],
                "role_id": str(r["role_id"]),
                "role": r["role"],
                "role_name": r["role_name"],
                "mfa_enabled": r["mfa_enabled"],
                "joined_at": r["joined_at"].isoformat().replace("+00:00", "Z"),
                "version": r["version"],
            }
            for r in rows
        ]
    }


@app.post("/api/v1/auth/login", endpoint="identity_api.login")
async def login_json():
    data = await request.get_json()
    async with app.pool.acquire() as conn, conn.transaction():
        user = await conn.fetchrow(
            "SELECT id, password_hash FROM users WHERE lower(email) = lower($1) "
            "AND deleted_at IS NULL AND status = 'active'",
            data["email"],
        )
        if user is None or not await asyncio.to_thread(verify_password, user["password_hash"], data["password"]):
            return {"error": "Unauthorized"}, 401
        await conn.execute("SELECT set_config('app.user_id', $1, true)", str(user["id"]))
        org = await conn.fetchrow(
            "SELECT o.id FROM organizations o JOIN memberships m ON m.organization_id = o.id "
            "WHERE o.slug = $1 AND m.user_id = $2 AND m.deleted_at IS NULL AND o.deleted_at IS NULL",
            data["organization"],
            user["id"],
        )
        now = datetime.now(UTC)
        session_id = await conn.fetchval(
            "INSERT INTO auth_sessions (id, user_id, token_hash, kind, organization_id, expires_at) "
            "VALUES (gen_random_uuid(), $1, $2, 'api', $3, $4) RETURNING id",
            user["id"],
            secrets.token_bytes(32),
            org["id"],
            now + timedelta(days=30),
        )
        access, refresh = "cl_at_" + secrets.token_urlsafe(32), "cl_rt_" + secrets.token_urlsafe(32)
        await conn.executemany(
            "INSERT INTO auth_tokens (id, session_id, kind, token_hash, expires_at) "
            "VALUES (gen_random_uuid(), $1, $2, $3, $4)",
            [
                (session_id, "access", hashlib.sha256(access.encode()).digest(), now + timedelta(minutes=15)),
                (session_id, "refresh", hashlib.sha256(refresh.encode()).digest(), now + timedelta(days=30)),
            ],
        )
        # the records the real login keeps: an audit row and a security event
        await chained_audit(
            conn, organization_id=None, actor_user_id=user["id"], action="auth.login", entity_type="auth_session",
            entity_id=str(session_id), after=None, metadata={"kind": "api"}, ip=None, user_agent=None,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO security_events (id, user_id, event_type, metadata) "
            "VALUES (gen_random_uuid(), $1, 'login.succeeded', '{}')",
            user["id"],
        )
    return {
        "token_type": "Bearer",
        "access_token": access,
        "expires_in": 900,
        "refresh_token": refresh,
        "refresh_expires_in": 30 * 86400,
        "session_id": str(session_id),
        "organization_id": str(org["id"]),
    }, 201


@app.get("/o/<org_slug>/ops/check", endpoint="ops.check_page")
async def check_page(org_slug: str):
    async with app.pool.acquire() as conn, conn.transaction():
        principal, org = await _enter(conn, org_slug)
        badges = await _frame_badges(conn, principal, org)
        rows = await conn.fetch(
            "SELECT id, created_at, status, progress, steps, error, attempt FROM system_checks "
            "WHERE organization_id = $1 ORDER BY id DESC LIMIT 26",
            org["id"],
        )
    items = []
    for r in rows[:25]:
        item = Row(r)
        item["status"] = CheckStatus(r["status"])
        item["steps"] = json.loads(r["steps"])
        items.append(item)
    page = SimpleNamespace(items=items, next_cursor=encode_cursor((items[-1]["id"],)) if len(rows) > 25 else None)
    g.ctx = _context(principal, org)
    body = await render_template(
        "ops/check.html",
        page=page,
        latest=items[0] if items else None,
        form=CheckForm(),
        labels=STEP_LABELS,
        ctx=g.ctx,
        **badges,
        settings=settings,
    )
    return Response(body, content_type="text/html; charset=utf-8")


_MISSION_COLUMNS = (
    "id, name, description, status, destination, crew_size, launch_date, landing_date, "
    "recycle_target_kg_per_day, energy_budget_kwh_per_day, crew_time_h_per_day, "
    "regolith_supply_kg_per_day, storage_volume_m3, wet_waste_cap_days, created_at, updated_at, version, tags"
)


def _mission(row) -> Row:
    item = Row(row)
    item["status"], item["destination"] = MissionStatus(row["status"]), Destination(row["destination"])
    item["tags"] = json.loads(row["tags"])  # a raw pool has no JSON codec: text, as the wire sends it
    return item


@app.get("/o/<org_slug>/missions", endpoint="missions.index")
async def missions_page(org_slug: str):
    args = request.args
    filters = {
        "q": args.get("q", "").strip()[:200],
        "status": args.get("status", ""),
        "destination": args.get("destination", ""),
        "sort": "",
    }
    where, params = " FROM missions WHERE organization_id = $1 AND deleted_at IS NULL", []
    if filters["status"]:
        params.append(filters["status"])
        where += f" AND status = ${len(params) + 1}"
    if filters["q"]:
        params.append(prefix_query(filters["q"]))
        where += f" AND search_vector @@ to_tsquery('simple', ${len(params) + 1})"
    sql = f"SELECT {_MISSION_COLUMNS}{where} ORDER BY created_at DESC, id DESC LIMIT 26"
    async with app.pool.acquire() as conn, conn.transaction():
        principal, org = await _enter(conn, org_slug)
        badges = await _frame_badges(conn, principal, org)
        rows = await conn.fetch(sql, org["id"], *params)
        # the count above the list: the page itself when it is the only one (as Listing.total does)
        total = len(rows) if len(rows) <= 25 else await conn.fetchval(f"SELECT count(*){where}", org["id"], *params)
        deleted = await conn.fetch(
            f"SELECT {_MISSION_COLUMNS} FROM missions WHERE organization_id = $1 "
            "AND deleted_at IS NOT NULL ORDER BY deleted_at DESC LIMIT 5",
            org["id"],
        )
    g.ctx = _context(principal, org)
    items = [_mission(r) for r in rows[:25]]
    next_cursor = None
    if len(rows) > 25:
        next_cursor = encode_cursor(("created_at:desc", encode_cursor((items[-1]["created_at"], items[-1]["id"]))))
    body = await render_template(
        "missions/index.html",
        page=SimpleNamespace(items=items, next_cursor=next_cursor),
        filters=filters,
        sort=Sort("created_at", True),
        statuses=list(MissionStatus),
        destinations=list(Destination),
        deleted=[_mission(r) for r in deleted],
        total=total,
        ctx=g.ctx,
        **badges,
    )
    return Response(body, content_type="text/html; charset=utf-8")


@app.get("/api/v1/organizations/<uuid:org_id>/products", endpoint="org_products_api.list_products")
async def products_json(org_id):
    async with app.pool.acquire() as conn, conn.transaction():
        if (key := await _key_scope(conn, org_id, "products:read")) is None:
            return {"error": "Forbidden"}, 403
        rows = await conn.fetch(
            "SELECT p.id, p.mission_id, p.product_type, p.quantity_kg, p.produced_at, p.recipe_id, p.kind, "
            "p.simulation_run_id, p.notes, p.created_at, p.updated_at, p.version, p.tags FROM products p "
            "JOIN missions m ON m.id = p.mission_id AND m.organization_id = p.organization_id "
            "LEFT JOIN processing_recipes r ON r.id = p.recipe_id "
            "WHERE p.organization_id = $1 AND p.deleted_at IS NULL AND m.deleted_at IS NULL "
            "ORDER BY p.produced_at DESC, p.id DESC LIMIT 26",
            org_id,
        )
    await _meter(org_id, key)
    items = rows[:25]
    next_cursor = None
    if len(rows) > 25:
        next_cursor = encode_cursor(("produced_at:desc", encode_cursor((items[-1]["produced_at"], items[-1]["id"]))))
    maybe = lambda v: None if v is None else str(v)  # noqa: E731
    return {
        "items": [
            {
                "id": str(r["id"]),
                "mission_id": str(r["mission_id"]),
                "product_type": r["product_type"],
                "quantity_kg": float(r["quantity_kg"]),
                "produced_at": r["produced_at"].isoformat(),
                "recipe_id": maybe(r["recipe_id"]),
                "kind": r["kind"],
                "simulation_run_id": maybe(r["simulation_run_id"]),
                "notes": r["notes"],
                "tags": json.loads(r["tags"]),
                "created_at": r["created_at"].isoformat(),
                "updated_at": r["updated_at"].isoformat(),
                "version": r["version"],
            }
            for r in items
        ],
        "next_cursor": next_cursor,
    }


# ---------------------------------------------------------------------------------------------- search
_Q = "(websearch_to_tsquery('english', $2) && to_tsquery('english', $3 || ':*'))"
_ESCAPED = "replace(replace(replace({col}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')"
_SEARCH_WORDS = (
    "SELECT top.entity_type, top.entity_id, top.mission_id, top.title, top.body, top.tags, top.rank, "
    f"ts_headline('english', {_ESCAPED.format(col='top.title')}, {_Q}, $4) AS title_html, "
    f"ts_headline('english', {_ESCAPED.format(col='top.body')}, {_Q}, $5) AS snippet_html "
    "FROM (SELECT entity_type, entity_id, mission_id, title, body, tags, "
    f"CAST(ts_rank_cd(search_vector, {_Q}, 32) AS REAL) AS rank FROM search_index "
    f"WHERE organization_id = $1 AND search_vector @@ {_Q} "
    "ORDER BY rank DESC, entity_type DESC, entity_id DESC LIMIT 21) AS top "
    "ORDER BY top.rank DESC, top.entity_type DESC, top.entity_id DESC"
)
_SEARCH_TAGS = (
    "SELECT top.entity_type, top.entity_id, top.mission_id, top.title, top.body, top.tags, top.rank, "
    f"{_ESCAPED.format(col='top.title')} AS title_html, {_ESCAPED.format(col='left(top.body, 160)')} AS snippet_html "
    "FROM (SELECT entity_type, entity_id, mission_id, title, body, tags, CAST(0.0 AS REAL) AS rank FROM search_index "
    "WHERE organization_id = $1 AND tags @> CAST($2 AS JSONB) "
    "ORDER BY rank DESC, entity_type DESC, entity_id DESC LIMIT 21) AS top "
    "ORDER BY top.rank DESC, top.entity_type DESC, top.entity_id DESC"
)
_PAGES = {
    "missions": "missions/{id}",
    "waste-materials": "catalog/materials/{id}",
    "processing-modules": "catalog/modules/{id}",
    "processing-recipes": "catalog/recipes/{id}",
    "simulation-runs": "simulation-runs/{id}",
    "products": "products/{id}",
}


def _marked(text: str) -> str:
    safe = (text or "").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return safe.replace(START, "<mark>").replace(STOP, "</mark>")


@app.get("/api/v1/organizations/<uuid:org_id>/search", endpoint="org_search_api.search_organization")
async def search_json(org_id):
    """The search JSON of an owner's API key (every kind visible): two words, or a tag."""
    q, tags = request.args.get("q", "").strip(), request.args.get("tags")
    async with app.pool.acquire() as conn, conn.transaction():
        if await _key_scope(conn, org_id, "missions:read") is None:
            return {"error": "Forbidden"}, 403
        slug = await conn.fetchval("SELECT slug FROM organizations WHERE id = $1", org_id)
        if q:
            rest, prefix = split_query(q)
            rows = await conn.fetch(_SEARCH_WORDS, org_id, rest, prefix, TITLE_HEADLINE, HEADLINE)
        else:
            rows = await conn.fetch(_SEARCH_TAGS, org_id, json.dumps([t.strip().lower() for t in tags.split(",")]))
    items = [
        {
            "entity_type": r["entity_type"],
            "entity_id": str(r["entity_id"]),
            "mission_id": str(r["mission_id"]) if r["mission_id"] else None,
            "title": r["title"],
            "title_html": _marked(r["title_html"]),
            "snippet_html": _marked(r["snippet_html"]),
            "tags": json.loads(r["tags"]),
            "rank": r["rank"],
            "url": f"/o/{slug}/" + _PAGES[r["entity_type"]].format(id=r["entity_id"]),
        }
        for r in rows[:20]
    ]
    next_cursor = None
    if len(rows) > 20:
        last = rows[19]
        next_cursor = encode_cursor((last["rank"], last["entity_type"], last["entity_id"]))
    return {"items": items, "next_cursor": next_cursor}


# ---------------------------------------------------------------------------------------------- attachments
_ATTACHMENT_LOCK = (
    "SELECT id, filename, declared_type, size, checksum_sha256, status, entity_type, entity_id, comment_id, "
    "uploaded_by, created_at, expires_at FROM attachments "
    "WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE"
)
_REFERENCE = (
    "UPDATE stored_objects SET unreferenced_since = NULL WHERE organization_id = $1 AND checksum_sha256 = $2 "
    "RETURNING id, content_type"
)
_STORE = (
    "INSERT INTO stored_objects (id, organization_id, checksum_sha256, size, content_type, storage_key) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (organization_id, checksum_sha256) "
    "DO UPDATE SET unreferenced_since = NULL RETURNING id, content_type"
)
_READY = (
    "UPDATE attachments SET status = 'ready', object_id = $2, content_type = $3, completed_at = now() WHERE id = $1"
)


@app.post("/api/v1/attachments/complete", endpoint="comments_api.complete_upload")
async def complete_attachment():
    """Complete an upload as the app does: lock the attachment, re-read and hash the object, record it, mark the
    attachment ready, audit; the same store, hashing and sniffing code, the SQL on bare asyncpg."""
    from webapp.collaboration.attachments import sniff
    from webapp.collaboration.storage import object_key, store_for
    from webapp.core.ids import new_id

    attachment_id = (await request.get_json())["attachment_id"]
    async with app.pool.acquire() as conn, conn.transaction():
        key = await _key_scope(conn, None, "attachments:write")
        if key is None:
            return {"error": "Forbidden"}, 403
        org_id = key["organization_id"]
        row = await conn.fetchrow(_ATTACHMENT_LOCK, org_id, attachment_id)
        stored = await conn.fetchrow(_REFERENCE, org_id, row["checksum_sha256"])
        if stored is None:
            store_key = object_key(org_id, row["checksum_sha256"])
            found = await store_for(settings).inspect(store_key)
            if found is None or found.size != row["size"] or found.sha256 != row["checksum_sha256"]:
                return {"error": "ValidationError"}, 422
            content_type = sniff(found.head, row["declared_type"])
            stored = await conn.fetchrow(
                _STORE, new_id(), org_id, row["checksum_sha256"], found.size, content_type, store_key
            )
        await conn.execute(_READY, row["id"], stored["id"], stored["content_type"])
        after = {"filename": row["filename"], "size": row["size"], "type": stored["content_type"], "on": None}
        await chained_audit(
            conn, organization_id=org_id, actor_user_id=key["user_id"], action="attachment.create",
            entity_type="attachment", entity_id=str(row["id"]), after=after, metadata={"api_key_id": str(key["id"])},
            ip=request.remote_addr, user_agent=request.headers.get("User-Agent"),
        )  # fmt: skip
    return {
        "id": str(row["id"]),
        "filename": row["filename"],
        "content_type": stored["content_type"],
        "declared_type": row["declared_type"],
        "size": row["size"],
        "checksum_sha256": row["checksum_sha256"],
        "status": "ready",
        "entity_type": row["entity_type"],
        "entity_id": str(row["entity_id"]) if row["entity_id"] else None,
        "comment_id": None,
        "uploaded_by": str(row["uploaded_by"]),
        "created_at": row["created_at"].isoformat(),
        "download_url": f"/api/v1/attachments/{row['id']}/download",
    }


_EVENT_INSERT = """
    INSERT INTO billing_payment_events (id, provider, event_id, type, payload, occurred_at, received_at, status,
        attempts)
    VALUES ($1, $2::billing_provider, $3, $4, $5::jsonb, $6, now(), 'received', 0)
"""


@app.post("/api/v1/webhooks/<any(sandbox, stripe, polar, dodo):provider>", endpoint="webhooks_api.receive_webhook")
async def receive_webhook(provider: str):
    """Take a Stripe-signed event as the app does: verify on the raw body with stripe's library, store it once on
    bare asyncpg, queue its processing on the same Redis stream; a duplicate is acknowledged."""
    import stripe

    from webapp.core.ids import new_id

    raw = await request.get_data()
    body = raw.decode()
    try:
        stripe.WebhookSignature.verify_header(
            body, request.headers.get("Stripe-Signature"), settings.webhook_secrets(provider)[0], tolerance=300
        )
    except (stripe.SignatureVerificationError, ValueError):
        return {"error": "BadRequest"}, 400
    event = json.loads(body)
    row_id = new_id()
    try:
        await app.pool.execute(
            _EVENT_INSERT, row_id, provider, event["id"], event["type"][:120], body,
            datetime.fromtimestamp(event["created"], UTC),
        )  # fmt: skip
    except asyncpg.UniqueViolationError:
        return {"received": True, "duplicate": True, "event_id": event["id"], "type": event["type"]}
    message = json.dumps({"task_id": secrets.token_hex(16), "task_name": "billing.process_event", "labels": {},
                          "labels_types": {}, "args": [str(row_id)], "kwargs": {}})  # fmt: skip
    await app.redis.xadd(f"{settings.redis_namespace}:tasks", {b"data": message.encode()}, maxlen=100_000)
    return {"received": True, "duplicate": False, "event_id": event["id"], "type": event["type"]}


# the statement ingestion runs (webapp/usage/ingest.py), with asyncpg's positional parameters
_USAGE_STORE = """
    WITH input AS (
        SELECT DISTINCT ON (org, tx) org, tx, code, qty, ts, props
        FROM unnest($1::uuid[], $2::text[], $3::text[], $4::numeric[], $5::timestamptz[], $6::text[], $7::integer[])
            AS t(org, tx, code, qty, ts, props, idx)
        ORDER BY org, tx, idx
    ), claimed AS (
        INSERT INTO usage_transaction_keys (organization_id, transaction_id, occurred_at)
        SELECT org, tx, ts FROM input ON CONFLICT DO NOTHING RETURNING organization_id, transaction_id
    ), stored AS (
        INSERT INTO usage_metered_usage
            (organization_id, transaction_id, occurred_at, metric_code, quantity, properties)
        SELECT i.org, i.tx, i.ts, i.code, i.qty, i.props::jsonb
        FROM input i JOIN claimed c ON c.organization_id = i.org AND c.transaction_id = i.tx
        RETURNING organization_id, metric_code, occurred_at
    ), stale AS (
        INSERT INTO usage_dirty_windows AS d (organization_id, metric_code, hour_start)
        SELECT DISTINCT organization_id, metric_code, date_trunc('hour', occurred_at, 'UTC') FROM stored
        ORDER BY 1, 2, 3
        ON CONFLICT (organization_id, metric_code, hour_start) DO UPDATE SET marked_at = now()
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM stored) AS stored
"""


@app.post("/internal/usage/record", endpoint="usage_internal.record_usage")
async def record_usage():
    """Take a batch of usage events as the app does — the bearer token compared in constant time, the JSON parsed,
    each event's fields read into arrays — and store it with the same single statement on bare asyncpg (no
    per-event schema validation, no metric, organization or time-window checks: the work the app adds)."""
    import hmac
    from decimal import Decimal

    token = request.headers.get("Authorization", "").partition(" ")[2].encode()
    if not hmac.compare_digest(token, settings.internal_tokens("usage")[0].encode()):
        return {"error": "Unauthorized"}, 401
    events = json.loads(await request.get_data())["events"]
    columns = (
        [e["organization_id"] for e in events], [e["transaction_id"] for e in events], [e["code"] for e in events],
        [Decimal(str(e.get("quantity", 1))) for e in events],
        [datetime.fromisoformat(e["timestamp"]) for e in events],
        [json.dumps(e.get("properties") or {}, separators=(",", ":")) for e in events], list(range(len(events))),
    )  # fmt: skip
    async with app.pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('app.bypass_rls', 'on', true)")
        stored = await conn.fetchval(_USAGE_STORE, *columns)
    return {"received": len(events), "stored": stored, "duplicates": len(events) - stored, "rejected": []}
