"""Service-to-service routes under /internal/: each group has its own bearer credential (settings.internal_tokens),
compared in constant time. Nothing else reaches them — the principal loader skips these paths, so a user's session
cookie or a tenant's API key is never even looked at, and a request carrying only those is a 401."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps

from quart import current_app, request

from webapp.core.errors import Unauthorized
from webapp.core.forms import csrf_exempt
from webapp.core.permissions import ACCESS_ATTR

PREFIX = "/internal/"


def is_internal_path(path: str) -> bool:
    """Whether a request path belongs to the service-to-service routes."""
    return path.startswith(PREFIX)


def _presented_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def internal(scope: str) -> Callable[[Callable], Callable]:
    """Let a route be called only with the `scope` group's service credential (`Authorization: Bearer …`)."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        async def wrapper(*args, **kwargs):
            token = _presented_token().encode()
            accepted = current_app.extensions["closedloop"]["settings"].internal_tokens(scope)
            # every accepted token is compared, so the time taken does not tell which one came close
            matched = [hmac.compare_digest(token, candidate.encode()) for candidate in accepted]
            if not token or not any(matched):
                raise Unauthorized(f"This route takes the internal {scope} service credential only.")
            return await view(*args, **kwargs)

        setattr(wrapper, ACCESS_ATTR, ("internal", scope))
        return csrf_exempt(wrapper)

    return decorate
