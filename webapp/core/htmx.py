"""htmx helpers: detect fragment requests, render page or partial, trigger client events."""

from __future__ import annotations

import json

from quart import Response, render_template, request


def is_htmx() -> bool:
    """True when htmx sent the request (and did not ask for a full-page boost)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def wants_json() -> bool:
    """JSON for the API, for JSON bodies, and for clients that prefer it."""
    if request.path.startswith("/api/"):
        return True
    if request.mimetype == "application/json":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


async def render(page: str, partial: str | None = None, /, *, status: int = 200, **context) -> Response:
    """Render the full page, or only `partial` when htmx asks; always Vary on HX-Request."""
    template = partial if (partial and is_htmx()) else page
    body = await render_template(template, **context)
    response = Response(body, status=status, content_type="text/html; charset=utf-8")
    response.vary.add("HX-Request")
    return response


def hx_trigger(response: Response, event: str, detail: object = None) -> Response:
    """Ask htmx to fire a client-side event after the swap (added to any events the response already fires)."""
    events = json.loads(response.headers.get("HX-Trigger") or "{}")
    events[event] = detail if detail is not None else True
    response.headers["HX-Trigger"] = json.dumps(events)
    return response


def toast(response: Response, message: str, kind: str = "success") -> Response:
    """Show `message` as a toast once htmx has swapped this answer in (static/app.js); kind: success, info, error."""
    return hx_trigger(response, "toast", {"message": message, "kind": kind})
