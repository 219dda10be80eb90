"""CSRF (signed double-submit cookie), form and JSON body parsing that fail with clear errors."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any, TypeVar

from markupsafe import Markup
from quart import current_app, g, request
from werkzeug.datastructures import MultiDict
from wtforms import Form

from webapp.core.edge import is_json_type
from webapp.core.errors import BadRequest, CsrfError, ValidationError

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_EXEMPT_ATTR = "_closedloop_csrf_exempt"

F = TypeVar("F", bound=Form)


def csrf_cookie_name() -> str:
    """__Host- prefixed when cookies are Secure (the prefix demands it)."""
    return "__Host-cl_csrf" if current_app.config["SESSION_COOKIE_SECURE"] else "cl_csrf"


def _sign(seed: str) -> str:
    key = current_app.secret_key.encode() if isinstance(current_app.secret_key, str) else current_app.secret_key
    return hmac.new(key, seed.encode(), hashlib.sha256).hexdigest()


def csrf_token() -> str:
    """The token forms and htmx send back; a new cookie seed is issued when missing."""
    seed = g.get("csrf_seed") or request.cookies.get(csrf_cookie_name())
    if not seed or len(seed) > 128:
        seed = secrets.token_urlsafe(32)
        g.csrf_new_seed = seed
    g.csrf_seed = seed
    return _sign(seed)


def rotate_csrf() -> None:
    """Issue a new CSRF seed (at sign-in: a token planted before the session existed stops working)."""
    seed = secrets.token_urlsafe(32)
    g.csrf_seed = g.csrf_new_seed = seed


def csrf_field() -> Markup:
    """Hidden input carrying the CSRF token, for every POST form."""
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{csrf_token()}">')


def csrf_exempt(view):
    """Mark a route that authenticates by signature or bearer token, never by cookie."""
    setattr(view, CSRF_EXEMPT_ATTR, True)
    return view


async def check_csrf() -> None:
    """Refuse a state-changing request whose token does not match its cookie."""
    if request.method in SAFE_METHODS:
        return
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        return  # browsers never attach this header by themselves; such requests ignore cookies entirely
    if request.path.startswith("/api/") and not request.cookies.get(current_app.config["QUART_AUTH_COOKIE_NAME"]):
        return  # a JSON call without the session cookie has no session to forge: it answers 401 instead
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and getattr(view, CSRF_EXEMPT_ATTR, False):
        return
    seed = request.cookies.get(csrf_cookie_name())
    sent = request.headers.get(CSRF_HEADER)
    if not sent and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sent = (await request.form).get(CSRF_FIELD)
    if not seed or not sent or not hmac.compare_digest(_sign(seed), sent):
        raise CsrfError()


def set_csrf_cookie(response) -> None:
    """Persist a freshly issued CSRF seed on the response."""
    seed = g.get("csrf_new_seed")
    if seed:
        response.set_cookie(
            csrf_cookie_name(),
            seed,
            httponly=True,
            samesite="Lax",
            path="/",
            secure=current_app.config["SESSION_COOKIE_SECURE"],
        )


async def read_form(form_cls: type[F]) -> F:
    """Bind the request's form data to a WTForms form (not yet validated)."""
    data = await request.form
    return form_cls(formdata=MultiDict(data))


def form_errors(form: Form) -> dict[str, list[str]]:
    """Field errors in the JSON error body's `details` shape."""
    return {name: list(errs) for name, errs in form.errors.items() if name != CSRF_FIELD}


async def json_object() -> dict[str, Any]:
    """The request body as a JSON object (parsed strictly at the edge, webapp.core.edge), or a 400 naming what is
    wrong."""
    if not is_json_type(request.mimetype):
        raise BadRequest("Send the body as application/json.")
    if "json_body" not in g:
        raise BadRequest("The request body is empty; a JSON object is expected.")
    data = g.json_body
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    return data


def raise_for_form(form: Form) -> None:
    """422 ValidationError carrying every field error."""
    raise ValidationError(details={"fields": form_errors(form)})


def show_errors(form: Form, exc: ValidationError) -> None:
    """Put a service's field errors (ValidationError/Conflict details) onto the form for re-rendering."""
    for name, errors in exc.details.get("fields", {}).items():
        if name in form._fields:
            form[name].errors = list(errors)


def require_id(value: object, field: str):
    """A UUID from user input, or a 422 naming `field`."""
    from webapp.core.ids import parse_id

    parsed = parse_id(value)
    if parsed is None:
        raise ValidationError(details={"fields": {field: ["Not a valid id."]}})
    return parsed


def choices(pairs) -> list:
    """(value, label) pairs as WTForms SelectChoice options."""
    from wtforms.fields.choices import SelectChoice

    return [SelectChoice(str(value), label) for value, label in pairs]


async def parse_body(model):
    """The JSON body validated into a pydantic `model` (in JSON mode, so a strict model takes exactly the types
    its schema names); a 422 with per-field messages otherwise, marked `source: schema` because the body does
    not match the OpenAPI document (a service rule broken by a well-formed body carries no `source`)."""
    from pydantic import ValidationError as PydanticError

    await json_object()
    try:
        return model.model_validate_json(await request.get_data(cache=True, as_text=False))
    except PydanticError as exc:
        fields: dict[str, list[str]] = {}
        for e in exc.errors():
            fields.setdefault(".".join(str(p) for p in e["loc"]) or "body", []).append(e["msg"])
        raise ValidationError(details={"fields": fields, "source": "schema"}) from exc


def parse_query(model):
    """The query string validated into a pydantic `model` (one field per parameter, the last value of each); a 400
    naming the parameter otherwise (`source: schema`: the OpenAPI document lists the accepted values)."""
    from pydantic import ValidationError as PydanticError

    try:
        return model.model_validate({key: request.args.getlist(key)[-1] for key in request.args})
    except PydanticError as exc:
        fields: dict[str, list[str]] = {}
        for e in exc.errors():
            fields.setdefault(".".join(str(p) for p in e["loc"]) or "query", []).append(e["msg"])
        raise BadRequest(
            "A query parameter is not one this route accepts.", {"fields": fields, "source": "schema"}
        ) from exc
