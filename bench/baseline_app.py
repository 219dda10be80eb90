"""Baseline for bench/http.py: the system-check page built on raw asyncpg with the same template.

It does the same work per request as the real page — session lookup by token hash, membership,
tenant-scoped list of 25 checks inside a transaction with app.org_id set — without the ORM or
our pipeline, so the ratio shows what the framework layers cost.
"""
from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace

import asyncpg
from itsdangerous import URLSafeTimedSerializer
from quart import Quart, Response, g, render_template, request

from webapp import create_app
from webapp.core.pagination import encode_cursor
from webapp.iam.catalog import system_role_permissions as permissions_for
from webapp.core.templating import install_template_helpers
from webapp.core.tenancy import RequestContext
from webapp.ops.enums import CheckStatus
from webapp.ops.forms import STEP_LABELS, CheckForm
from webapp.settings import PROJECT_ROOT, load_settings

settings = load_settings()
real = create_app(settings)
app = Quart(__name__, template_folder=str(PROJECT_ROOT / "templates"), static_folder=str(PROJECT_ROOT / "static"))
app.secret_key = settings.secret_key
app.config.update(SESSION_COOKIE_SECURE=settings.cookie_secure)
install_template_helpers(app)

# the same endpoints exist (as stubs) so url_for() in the shared templates resolves identically
for rule in real.url_map.iter_rules():
    if rule.endpoint not in ("static", "ops.check_page"):
        app.add_url_rule(rule.rule, endpoint=rule.endpoint, view_func=lambda **_: ("", 404), methods=rule.methods)



@app.url_defaults
def _push_org(endpoint, values) -> None:
    ctx = g.get("ctx")
    if ctx and "org_slug" not in values and app.url_map.is_endpoint_expecting(endpoint, "org_slug"):
        values["org_slug"] = ctx.org_slug


_serializer = URLSafeTimedSerializer(settings.secret_key, salt="closedloop-session",
                                     signer_kwargs={"digest_method": hashlib.sha512})
_COOKIE = real.config["QUART_AUTH_COOKIE_NAME"]


class Row(dict):
    """Attribute access for template rows."""

    __getattr__ = dict.__getitem__


@app.before_serving
async def _pool() -> None:
    dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    app.pool = await asyncpg.create_pool(dsn, min_size=4, max_size=10, server_settings={"role": settings.app_db_role})


@app.get("/o/<org_slug>/ops/check", endpoint="ops.check_page")
async def check_page(org_slug: str):
    token = _serializer.loads(request.cookies[_COOKIE])
    digest = hashlib.sha256(token.encode()).digest()
    async with app.pool.acquire() as conn, conn.transaction():
        principal = await conn.fetchrow(
            "SELECT s.id, s.user_id, u.email, u.name FROM auth_sessions s JOIN users u ON u.id = s.user_id "
            "WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now() AND u.deleted_at IS NULL", digest)
        await conn.execute("SELECT set_config('app.user_id', $1, true)", str(principal["user_id"]))
        org = await conn.fetchrow(
            "SELECT o.id, o.slug, o.name, r.key AS role FROM organizations o JOIN memberships m ON m.organization_id = o.id JOIN roles r ON r.id = m.role_id "
            "WHERE o.slug = $1 AND m.user_id = $2 AND o.deleted_at IS NULL AND m.deleted_at IS NULL",
            org_slug, principal["user_id"])
        await conn.execute("SELECT set_config('app.org_id', $1, true)", str(org["id"]))
        rows = await conn.fetch(
            "SELECT id, created_at, status, progress, steps, error, attempt FROM system_checks "
            "WHERE organization_id = $1 ORDER BY id DESC LIMIT 26", org["id"])
    items = []
    for r in rows[:25]:
        item = Row(r)
        item["status"] = CheckStatus(r["status"])
        item["steps"] = json.loads(r["steps"])
        items.append(item)
    page = SimpleNamespace(items=items, next_cursor=encode_cursor((items[-1]["id"],)) if len(rows) > 25 else None)
    g.ctx = RequestContext(user_id=principal["user_id"], user_email=principal["email"], user_name=principal["name"],
                           org_id=org["id"], org_slug=org["slug"], org_name=org["name"], role=org["role"],
                           permissions=permissions_for(org["role"]))
    body = await render_template("ops/check.html", page=page, latest=items[0] if items else None, form=CheckForm(),
                                 labels=STEP_LABELS, ctx=g.ctx, settings=settings)
    return Response(body, content_type="text/html; charset=utf-8")
