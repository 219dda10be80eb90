"""Every route declares who may call it: @public or @requires(...)."""

import pytest

from webapp.core.permissions import ACCESS_ATTR


def test_every_route_is_public_or_requires(app):
    undeclared = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static",) or rule.endpoint.startswith("openapi"):
            continue
        view = app.view_functions[rule.endpoint]
        if getattr(view, ACCESS_ATTR, None) is None:
            undeclared.append(f"{rule.rule} -> {rule.endpoint}")
    assert undeclared == []


def test_inventory_covers_the_known_surface(app):
    rules = {r.rule for r in app.url_map.iter_rules()}
    assert {"/health", "/ready", "/version", "/metrics", "/login", "/o/<org_slug>/ops/check"} <= rules


# Writes that must work without a session: each proves itself with a password or an emailed single-use token.
PUBLIC_WRITES = {
    "/login",
    "/login/mfa",
    "/signup",
    "/verify-email",
    "/forgot-password",
    "/reset-password",
    "/unlock",
    "/invitations/accept",
    "/me/email/confirm",
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/auth/verify-email",
    "/api/v1/auth/reset-password",
    "/storage/upload",  # the local object store's upload: the signed token in the form is the credential
    "/api/v1/webhooks/<any(sandbox, stripe, polar, dodo):provider>",  # the provider's signature is the credential
}


def test_state_changing_routes_are_public_only_where_a_credential_is_presented(app):
    public_writes = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        access = getattr(view, ACCESS_ATTR, None)
        if access and access[0] == "public" and rule.methods & {"POST", "PUT", "PATCH", "DELETE"}:
            public_writes.append(rule.rule)
    assert sorted(public_writes) == sorted(PUBLIC_WRITES)


def test_requests_do_not_hop_to_threads(app, settings):
    """Quart runs sync hooks on a thread pool; the app keeps none, and refuses to start with a new one."""
    import inspect

    from webapp import _avoid_thread_hops, create_app

    processors = [p for group in app.template_context_processors.values() for p in group]
    hooks = [f for group in app.before_request_funcs.values() for f in group]
    assert processors and hooks and all(inspect.iscoroutinefunction(f) for f in processors + hooks)
    for registry in ("template_context_processors", "before_request_funcs"):
        other = create_app(settings)
        getattr(other, registry)["ops"].append(lambda: None)
        with pytest.raises(RuntimeError, match="sync request hooks"):
            _avoid_thread_hops(other)
