"""Where the API's edge meets the request pipeline (webapp/__init__.py): `guard` after the caller and organization
are known, `stamp` on the way out."""

from __future__ import annotations

import logging

from quart import Response, current_app, g, request

from webapp.apiedge import idempotency, ratelimit
from webapp.core.edge import UNLIMITED_ENDPOINTS
from webapp.core.errors import RateLimited
from webapp.core.tenancy import RequestContext
from webapp.core.transaction import db_session

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1/"


def _limiter() -> ratelimit.ApiLimiter:
    extension = current_app.extensions["closedloop"]
    if "api_limiter" not in extension:
        settings = extension["settings"]
        extension["api_limiter"] = ratelimit.ApiLimiter(settings.redis_url, settings.redis_namespace)
    return extension["api_limiter"]


def is_api_request() -> bool:
    """An /api/v1 route that counts (not the provider webhooks)."""
    return request.path.startswith(API_PREFIX) and request.endpoint not in UNLIMITED_ENDPOINTS


async def guard(ctx) -> Response | None:
    """Count the request against its windows (429 when over), then reserve or replay its idempotency key."""
    if not is_api_request():
        return None
    limiter = _limiter()
    windows = await limiter.hit(await limiter.limits_for(db_session(), ctx))
    g.rate_window = ratelimit.binding(windows)
    if g.rate_window is not None and not g.rate_window.allowed:
        raise RateLimited(g.rate_window.reset, f"Too many API requests for this {g.rate_window.subject}: "
                          f"{g.rate_window.limit} a minute. Retry in {g.rate_window.reset} s.")  # fmt: skip
    return await idempotency.begin(ctx)


def stamp(response: Response) -> None:
    """Every API answer says where its tightest window stands."""
    window = g.get("rate_window")
    if window is not None:
        response.headers.update(ratelimit.headers(window))


async def current_use(ctx, key_ids) -> dict:
    """This minute's API use for the organization's API page: the organization's window, the viewer's own, and each
    listed key's (nothing is counted)."""
    limiter = _limiter()
    session = db_session()
    windows = await limiter.limits_for(session, RequestContext(org_id=ctx.org_id, user_id=ctx.user_id))
    key_limit = int((await limiter.platform_limits(session))["api.rate_limit_key"])
    key_windows = [("key", str(k), key_limit) for k in key_ids]
    found = await limiter.current(windows + key_windows)
    named = {w.subject: w for w in found[: len(windows)]}
    return {"organization": named.get("organization"), "user": named.get("user"),
            "keys": dict(zip(key_ids, found[len(windows):], strict=True))}  # fmt: skip
