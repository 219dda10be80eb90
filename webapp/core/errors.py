"""The DomainError family and the one table that renders errors as page, fragment or JSON."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from quart import Quart, Response, g, jsonify, render_template, request
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from webapp.core.htmx import is_htmx, wants_json

log = logging.getLogger(__name__)


class DomainError(Exception):
    """Base of errors that carry an HTTP status, a stable name and a user-facing message."""

    status_code = 400
    error = "BadRequest"
    default_message = "The request could not be processed."

    def __init__(self, message: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.details = details or {}


class BadRequest(DomainError):
    """Malformed input that could not even be parsed."""

    status_code, error, default_message = 400, "BadRequest", "The request is malformed."


class ValidationError(DomainError):
    """Well-formed input that breaks a rule; details name the fields."""

    status_code, error, default_message = 422, "ValidationError", "Some fields are invalid."

    @classmethod
    def field(cls, name: str, message: str) -> "ValidationError":
        """A 422 about one field."""
        return cls(details={"fields": {name: [message]}})


class Unauthorized(DomainError):
    """No valid credential."""

    status_code, error, default_message = 401, "Unauthorized", "Please sign in."


class PaymentRequired(DomainError):
    """The plan does not cover it (a limit reached, or the organization is read-only until paid); details say which
    limit, how much is used and where to upgrade."""

    status_code, error, default_message = 402, "PaymentRequired", "Your plan does not cover this."


class Forbidden(DomainError):
    """Authenticated but not allowed."""

    status_code, error, default_message = 403, "Forbidden", "You do not have permission to do that."


class CsrfError(Forbidden):
    """Missing or wrong anti-forgery token."""

    error, default_message = (
        "CsrfError",
        "The form expired or was not sent by this site. Reload the page and try again.",
    )


class NotFound(DomainError):
    """Missing, deleted, or belonging to another organization (indistinguishable on purpose)."""

    status_code, error, default_message = (
        404,
        "NotFound",
        ("There is nothing at this address, or it belongs to an organization you are not in."),
    )


class Conflict(DomainError):
    """Stale version or uniqueness clash."""

    status_code, error, default_message = 409, "Conflict", "Someone else changed this first."


class PayloadTooLarge(DomainError):
    """Body above the configured limit."""

    status_code, error, default_message = 413, "PayloadTooLarge", "The request body is too large."


class RateLimited(DomainError):
    """Too many requests; Retry-After says when to come back."""

    status_code, error, default_message = 429, "RateLimited", "Too many requests. Try again later."

    def __init__(self, retry_after: int, message: str | None = None):
        super().__init__(message, {"retry_after": retry_after})
        self.retry_after = retry_after


_HTTP_NAMES = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: ValidationError,
    429: RateLimited,
}


ErrorContext = Callable[[DomainError], Awaitable[dict]]
_ERROR_CONTEXT: list[ErrorContext] = []


def add_error_context(provider: ErrorContext) -> None:
    """Let a domain add to what error pages show (e.g. whom to ask for a missing permission); core knows none."""
    _ERROR_CONTEXT.append(provider)


async def _page_context(exc: DomainError) -> dict:
    context: dict = {}
    for provider in _ERROR_CONTEXT:
        try:
            context |= await provider(exc)
        except Exception:  # an error page must render even when its extras cannot be found
            log.exception("error page context failed")
    return context


async def render_error(exc: DomainError) -> Response:
    """Render an error as JSON, an htmx fragment (an error toast added to #toasts) or a full page."""
    status = exc.status_code
    g.error_page = True
    if wants_json():
        response = jsonify({"error": exc.error, "message": exc.message, "details": exc.details})
    elif is_htmx():
        body = await render_template("errors/_error.html", error=exc, status=status, **await _page_context(exc))
        response = Response(body, content_type="text/html; charset=utf-8")
        response.headers["HX-Retarget"] = "#toasts"
        response.headers["HX-Reswap"] = "beforeend"
    else:
        body = await render_template("errors/error.html", error=exc, status=status, **await _page_context(exc))
        response = Response(body, content_type="text/html; charset=utf-8")
    response.status_code = status
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def register_error_handlers(app: Quart) -> None:
    """Route DomainErrors, HTTP errors and crashes through render_error."""

    @app.errorhandler(DomainError)
    async def _domain(exc: DomainError):
        return await render_error(exc)

    @app.errorhandler(HTTPException)
    async def _http(exc: HTTPException):
        cls = _HTTP_NAMES.get(exc.code or 500)
        if cls is None:
            err = DomainError(exc.description)
            err.status_code, err.error = exc.code or 500, exc.name.replace(" ", "")
        elif cls is RateLimited:
            err = RateLimited(60)
        else:
            err = cls()
        response = None
        if exc.code == 405:
            err.error = "MethodNotAllowed"
            err.message = f"This address does not accept {request.method} requests."
            allowed = sorted(getattr(exc, "valid_methods", None) or [])
            err.details = {"allowed": allowed}
            response = await render_error(err)
            response.headers["Allow"] = ", ".join(allowed)
        return response or await render_error(err)

    @app.errorhandler(StaleDataError)
    async def _stale(exc: StaleDataError):
        # two writers of one versioned row at the same moment: the later one is told, like a stale version
        return await render_error(Conflict("Someone changed this at the same moment. Reload it and try again."))

    @app.errorhandler(Exception)
    async def _crash(exc: Exception):
        log.exception("unhandled error", extra={"request_id": g.get("request_id")})
        err = DomainError("Something went wrong on our side. The error was logged.")
        err.status_code, err.error = 500, "InternalError"
        return await render_error(err)
