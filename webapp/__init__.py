"""ClosedLoop web application: create_app() builds the Quart app and its request pipeline."""

from __future__ import annotations

import logging
from types import MethodType
from urllib.parse import urlencode

from quart import Quart, Request, current_app, g, redirect, request, url_for
from quart_auth import QuartAuth
from quart_schema import QuartSchema

from webapp.apiedge import idempotency
from webapp.apiedge.pipeline import guard as guard_api
from webapp.apiedge.pipeline import stamp as stamp_api
from webapp.config import PROJECT_ROOT, Settings, load_settings
from webapp.core.db import fetch_rows, make_engine, make_sessionmaker
from webapp.core.edge import peer_ip, screen_request
from webapp.core.errors import DomainError, Forbidden, Unauthorized, register_error_handlers
from webapp.core.forms import check_csrf, set_csrf_cookie
from webapp.core.htmx import is_htmx
from webapp.core.ids import OrgRefConverter
from webapp.core.internal import is_internal_path
from webapp.core.logging import configure_logging, request_id_of, request_id_var
from webapp.core.openapi import ApiDocument
from webapp.core.permissions import ACCESS_ATTR, Perm
from webapp.core.pubsub import make_redis
from webapp.core.security_headers import apply_security_headers, content_security_policy
from webapp.core.templating import install_template_helpers
from webapp.core.tenancy import RequestContext
from webapp.core.transaction import db_session, end_request_transaction
from webapp.ops.metrics import Stopwatch, WebMetrics

log = logging.getLogger("closedloop.request")


def create_app(settings: Settings | None = None) -> Quart:
    """Build the app: config, extensions, pipeline hooks, blueprints, error table."""
    import webapp.models  # noqa: F401 - every model, entity kind and the search index's flush hook

    settings = settings or load_settings()
    configure_logging(settings.log_level, settings.log_json)
    app = Quart(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.secret_key = settings.secret_key
    app.request_class = _request_class(settings)
    app.url_map.converters["org"] = OrgRefConverter  # /api/v1/organizations/<org:org_id>: an id or a slug
    cookie_name = "__Host-cl_session" if settings.cookie_secure else "cl_session"
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        # Quart's signed cookie session carries only flash messages (sign-in state is quart-auth's cookie)
        SESSION_COOKIE_NAME="__Host-cl_flash" if settings.cookie_secure else "cl_flash",
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_PATH="/",
        QUART_AUTH_COOKIE_NAME=cookie_name,
        QUART_AUTH_COOKIE_SECURE=settings.cookie_secure,
        QUART_AUTH_COOKIE_SAMESITE="Lax",
        QUART_AUTH_DURATION=settings.session_absolute_hours * 3600,
        QUART_AUTH_SALT="closedloop-session",
        QUART_SCHEMA_CONVERT_CASING=False,
        TEMPLATES_AUTO_RELOAD=settings.environment == "development",
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    QuartAuth(app)
    QuartSchema(
        app,
        openapi_path="/api/v1/openapi.json",
        swagger_ui_path=None,
        redoc_ui_path=None,
        scalar_ui_path=None,
        info={"title": "ClosedLoop API", "version": "1"},
        openapi_provider_class=ApiDocument,  # exactly the /api/v1 JSON API (webapp.core.openapi)
    )
    _plain_data_skips_conversion(app)
    app.extensions["closedloop"] = {"settings": settings, "metrics": WebMetrics()}
    _register_lifecycle(app, settings)
    _register_pipeline(app, settings)
    _register_template_helpers(app)
    register_error_handlers(app)

    from webapp.routes import register_blueprints

    register_blueprints(app)
    _avoid_thread_hops(app)
    from webapp.billing.fast_intake import WebhookIntake

    # provider webhooks skip the page pipeline they never need (the route stays in the map and the document)
    app.asgi_app = WebhookIntake(app, app.asgi_app)
    return app


def _request_class(settings: Settings) -> type[Request]:
    """Requests whose body may be MAX_BODY_BYTES, except uploads to the local object store, which may carry one
    file of ATTACHMENT_MAX_BYTES (plus the form's fields)."""
    from webapp.collaboration.storage.local import UPLOAD_PATH

    upload_limit = settings.attachment_max_bytes + 64 * 1024

    class AppRequest(Request):
        def __init__(self, method, scheme, path, *args, max_content_length=None, **kwargs):
            upload = path == UPLOAD_PATH
            if upload:
                max_content_length = upload_limit
            super().__init__(method, scheme, path, *args, max_content_length=max_content_length, **kwargs)
            if upload:  # the form parser reads the limit from the request, not from its body
                self.max_content_length = upload_limit

    return AppRequest


def _plain_data_skips_conversion(app: Quart) -> None:
    """quart-schema runs every returned dict through a fresh pydantic TypeAdapter before Quart serialises it; plain
    dicts and lists (most answers, lists included) go straight to Quart, whose JSON provider (quart-schema's) still
    handles any model nested inside; returned models keep quart-schema's conversion."""
    converting, plain = app.make_response, MethodType(Quart.make_response, app)

    async def make_response(result):
        body = result[0] if type(result) is tuple else result
        return await (plain if type(body) in (dict, list) else converting)(result)

    app.make_response = make_response


def _avoid_thread_hops(app: Quart) -> None:
    """Quart runs every sync hook (context processor, before/after-request, error handler) on a thread pool, a hop
    per request. Drop the two sync context processors that add nothing — the one Flask's scaffold gives each
    blueprint (g, request, session: the app's async one adds them already) and quart-auth's `current_user` (no
    template uses it; pages read `ctx`) — and refuse to start with any other sync hook."""
    import inspect

    redundant = {"_default_template_ctx_processor", "QuartAuth._template_context"}
    for processors in app.template_context_processors.values():
        processors[:] = [p for p in processors if inspect.iscoroutinefunction(p) or p.__qualname__ not in redundant]
    hooks = [
        app.template_context_processors,
        app.before_request_funcs,
        app.after_request_funcs,
        app.teardown_request_funcs,
    ]
    functions = [f for registry in hooks for group in registry.values() for f in group]
    functions += [
        f for codes in app.error_handler_spec.values() for handlers in codes.values() for f in handlers.values()
    ]
    sync = [f.__qualname__ for f in functions if not inspect.iscoroutinefunction(f)]
    if sync:
        raise RuntimeError(f"sync request hooks would run on a thread for every request: {', '.join(sync)}")


def _register_lifecycle(app: Quart, settings: Settings) -> None:
    @app.before_serving
    async def _open_resources() -> None:
        if not settings.database_url or not settings.redis_url:
            raise RuntimeError("DATABASE_URL and REDIS_URL must be set (make dev sets both for the embedded services)")
        engine = make_engine(
            settings.database_url,
            settings.app_db_role,
            settings.db_pool_size,
            settings.db_max_overflow,
            settings.db_idle_transaction_seconds,
        )
        state = app.extensions["closedloop"]
        state["engine"] = engine
        state["sessionmaker"] = make_sessionmaker(engine)
        state["redis"] = make_redis(settings.redis_url)
        from webapp.core.broadcast import Hub

        state["hub"] = Hub(state["redis"])  # one pub/sub connection for every SSE stream of this process
        from webapp.identity.throttle import LoginThrottle

        state["throttle"] = LoginThrottle(settings, state["redis"])
        from workers.broker import broker

        if not broker.is_worker_process:
            await broker.startup()
        state["broker"] = broker

    @app.after_serving
    async def _close_resources() -> None:
        state = app.extensions["closedloop"]
        broker = state.pop("broker", None)
        if broker is not None and not broker.is_worker_process:
            await broker.shutdown()
        if "hub" in state:
            await state.pop("hub").close()
        if "redis" in state:
            await state.pop("redis").aclose()
        if "engine" in state:
            await state.pop("engine").dispose()


def _register_pipeline(app: Quart, settings: Settings) -> None:
    @app.url_value_preprocessor
    def _pull_org(endpoint, values) -> None:
        if values:
            g.org_slug = values.pop("org_slug", None)

    @app.url_defaults
    def _push_org(endpoint, values) -> None:
        ctx = g.get("ctx")
        if (
            ctx
            and ctx.org_slug
            and "org_slug" not in values
            and app.url_map.is_endpoint_expecting(endpoint, "org_slug")
        ):
            values["org_slug"] = ctx.org_slug

    @app.before_request
    async def _begin():
        # g and request are context-variable proxies: this runs on every request, so each is looked up once
        here, req = g._get_current_object(), request._get_current_object()
        here.stopwatch = Stopwatch()
        headers = req.headers
        here.request_id = request_id_of(headers.get("X-Request-ID", ""))
        request_id_var.set(here.request_id)
        here.ctx = RequestContext(
            request_id=here.request_id,
            ip=peer_ip(req.remote_addr),
            user_agent=(headers.get("User-Agent") or "")[:400] or None,
        )
        endpoint = req.endpoint
        if endpoint in ("static", "openapi") or (endpoint or "").startswith("ops_platform."):
            return  # files, the API's own description and probes answer anyone, credentials or not
        await screen_request()
        from webapp.identity.principal import resolve_principal
        from webapp.organizations.context import load_org_context

        if endpoint is None:  # a 404 or 405 is coming: the error page still shows who is signed in
            await _know_who_asks(resolve_principal, load_org_context)
            return
        await check_csrf()
        if is_internal_path(req.path):
            return  # service-to-service: the route checks its own credential; sessions and API keys count for nothing
        try:
            await resolve_principal()
        except Unauthorized:
            if not _is_public(endpoint):
                raise
            # a stale token must not stop someone from signing in or resetting a password: go on as a stranger
            here.ctx = RequestContext(request_id=here.request_id, ip=here.ctx.ip, user_agent=here.ctx.user_agent)
        ctx = here.ctx
        if ctx.impersonator_id is not None:
            from webapp.support.impersonation import refuse_forbidden_action

            refuse_forbidden_action(ctx)
        if ctx.consent_due and (prompt := _ask_for_consent_first()) is not None:
            return prompt
        slug = here.get("org_slug")
        org_ref = (req.view_args or {}).get("org_id")
        if slug is not None:
            await load_org_context(slug=slug)
        elif isinstance(org_ref, str):  # the JSON API names organizations by id or by address
            await load_org_context(slug=org_ref)
        elif org_ref is not None:
            await load_org_context(org_id=org_ref)
        return await guard_api(here.ctx)

    from webapp.collaboration.storage import store_for

    csp = content_security_policy(store_for(settings).connect_origins())
    app.extensions["closedloop"]["csp"] = csp
    metrics = app.extensions["closedloop"]["metrics"]

    @app.after_request
    async def _finish(response):
        here, req = g._get_current_object(), request._get_current_object()
        await idempotency.finish(response)
        await end_request_transaction(response.status_code)
        await idempotency.finish_failed()
        stamp_api(response)
        ctx = here.get("ctx")
        if (
            response.status_code < 400  # a refused request is not usage (and bad input changes nothing)
            and ctx is not None and ctx.api_key_id is not None and ctx.org_id is not None
        ):  # fmt: skip
            await _count_api_call(ctx)
        set_csrf_cookie(response)
        apply_security_headers(response, hsts=settings.cookie_secure, csp=csp)
        endpoint, headers = req.endpoint, response.headers
        if endpoint != "static":
            headers.setdefault("Cache-Control", "no-store")
        headers["X-Request-ID"] = here.get("request_id", "")
        stopwatch = here.get("stopwatch")
        if stopwatch is not None:
            route = req.url_rule.rule if req.url_rule else "unmatched"
            elapsed = stopwatch.elapsed
            metrics.observe(req.method, route, response.status_code, elapsed)
            if endpoint != "static" and log.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    extra={
                        "method": req.method,
                        "path": req.path,
                        "status": response.status_code,
                        "duration_ms": round(elapsed * 1000, 2),
                        "user_id": str(ctx.user_id) if ctx and ctx.user_id else None,
                        "org": ctx.org_slug if ctx else None,
                    },
                )
        return response

    @app.teardown_request
    async def _teardown(exc) -> None:
        # after_request normally ended the transaction; this catches a crash inside it
        await end_request_transaction(500)


async def _count_api_call(ctx: RequestContext) -> None:
    """Meter a request made with an API key (a Redis counter; usage's flush turns it into events). Redis being
    away costs the count, never the answer."""
    from webapp.usage.self_metering import count_api_call

    extension = current_app.extensions["closedloop"]
    try:
        await count_api_call(extension["redis"], extension["settings"].redis_namespace, ctx.org_id, ctx.api_key_id)
    except Exception:  # noqa: BLE001
        log.warning("API call not counted", exc_info=True)


def _ask_for_consent_first():
    """A browser session that signed in while a changed document waits for the person's yes reaches only the
    prompt, the privacy pages and signing out: a page goes to the prompt, anything else is a 403 saying so."""
    from webapp.privacy.views import reachable_before_consent

    if reachable_before_consent(request.endpoint) or _is_public(request.endpoint):
        return None
    prompt = url_for("privacy.consent_prompt")
    if request.method == "GET" and not request.path.startswith("/api/") and not is_htmx():
        return redirect(f"{prompt}?{urlencode({'next': request.full_path.rstrip('?')})}", 303)
    raise Forbidden("Accept the updated terms first.", {"consent_required": True, "prompt": prompt})


def _is_public(endpoint: str | None) -> bool:
    view = current_app.view_functions.get(endpoint or "")
    return getattr(view, ACCESS_ATTR, ("",))[0] == "public"


async def _know_who_asks(resolve_principal, load_org_context) -> None:
    """Principal and organization for an address that matched no route, best effort: the answer stays the 404 or
    405 the router found, whatever the credentials say."""
    try:
        await resolve_principal()
        parts = request.path.split("/")
        if len(parts) > 2 and parts[1] == "o" and parts[2]:
            await load_org_context(slug=parts[2])
    except DomainError:
        pass


def _register_template_helpers(app: Quart) -> None:
    install_template_helpers(app)

    @app.context_processor
    async def _inject() -> dict:
        ctx = g.get("ctx")
        return {
            "ctx": ctx,
            "settings": app.extensions["closedloop"]["settings"],
            **await _frame_badges(ctx),
        }


async def _frame_badges(ctx) -> dict:
    """The frame's badges of a full page (never a fragment), in one statement: break-glass requests waiting for
    this approver, and comments mentioning the viewer they have not read."""
    from sqlalchemy import literal, select

    # the domains load after the app's core
    from webapp.collaboration.queries import unread_mentions_count
    from webapp.iam.breakglass import awaiting_count

    none = {"pending_approvals": 0, "unread_mentions": 0}
    if ctx is None or ctx.org_id is None or ctx.api_key_id or ctx.user_id is None:
        return none
    if is_htmx() or g.get("error_page"):  # an error page may follow a failed transaction: no more queries
        return none
    approvals = awaiting_count(ctx.org_id, ctx.user_id) if ctx.can(Perm.BREAKGLASS_APPROVE) else literal(0)
    stmt = select(approvals, unread_mentions_count(ctx.org_id, ctx.user_id))
    pending, mentions = (await fetch_rows(db_session(), stmt)).one()
    return {"pending_approvals": pending, "unread_mentions": mentions}
