"""The input edge: every request's path, query string and body are screened once, before any view runs.

What PostgreSQL or the JSON layer would otherwise turn into a 500 is refused here with the usual error body:
bodies that are not UTF-8, JSON nested deeper than MAX_JSON_DEPTH or carrying NaN/Infinity, and text with NUL
characters or lone surrogates (PostgreSQL stores neither) in any field, JSON or form, or in a query parameter.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from typing import Any

from quart import g, request

from webapp.core.errors import BadRequest, ValidationError

MAX_JSON_DEPTH = 32
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
# NUL and lone surrogates: text PostgreSQL cannot store and UTF-8 cannot encode
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


# API routes no rate limit counts: payment providers retry on their own schedule (never 429 them)
UNLIMITED_ENDPOINTS = frozenset({"webhooks_api.receive_webhook"})


def peer_ip(raw: str | None) -> str | None:
    """The peer address when it is an IP (test clients and Unix sockets report other things)."""
    try:
        return str(ipaddress.ip_address(raw)) if raw else None
    except ValueError:
        return None


def is_json_type(mimetype: str) -> bool:
    """application/json and the +json family."""
    return mimetype == "application/json" or mimetype.endswith("+json")


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored, or None."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "Contains a NUL character (\\u0000), which cannot be stored."
    return "Contains a lone surrogate (an unpaired \\ud800–\\udfff escape), which is not valid Unicode text."


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(f"{raw} is too large for a number")
    return value


def decode_json(raw: bytes) -> Any:
    """Parse a JSON body strictly: UTF-8 only, no byte-order mark, no NaN/Infinity; a 400 otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            "The request body is not UTF-8 text; send JSON encoded as UTF-8.", {"position": exc.start}
        ) from exc
    if text.startswith("\ufeff"):
        raise BadRequest("The request body starts with a byte-order mark; send JSON as UTF-8 without one.")
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError as exc:  # the C parser's own depth guard, far above MAX_JSON_DEPTH
        raise BadRequest(f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.") from exc
    except ValueError as exc:
        raise BadRequest("The request body is not valid JSON.", {"reason": str(exc)[:200]}) from exc


def unstorable_fields(data: Any) -> dict[str, list[str]]:
    """{field path: [message]} for every key or string inside `data` that cannot be stored; a 400 when `data`
    nests deeper than MAX_JSON_DEPTH."""
    problems: dict[str, list[str]] = {}
    stack = [("", data, 0)]
    while stack:
        where, value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.")
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                problems[where or "body"] = [problem]
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{where}.{_field_name(key)}" if where else _field_name(key)
                problem = text_problem(key)
                if problem:
                    problems[child] = ["The field name: " + problem[0].lower() + problem[1:]]
                stack.append((child, item, depth + 1))
        elif isinstance(value, list):
            stack.extend(
                (f"{where}.{index}" if where else str(index), item, depth + 1) for index, item in enumerate(value)
            )
    return problems


def json_problems(raw: bytes, data: Any) -> dict[str, list[str]]:
    """unstorable_fields of a body parsed from `raw`, walking only its depth when it cannot hold a bad string: a
    NUL or a lone surrogate reaches a string only through a \\u escape (raw control characters are not JSON, and
    the bytes were strict UTF-8)."""
    return unstorable_fields(data) if b"\\u" in raw else _check_depth(data)


def _check_depth(data: Any) -> dict:
    """A 400 when `data` nests deeper than MAX_JSON_DEPTH (containers only: the cheap half of unstorable_fields)."""
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        if items and depth >= MAX_JSON_DEPTH:  # its items sit deeper than allowed, whatever they are
            raise BadRequest(f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.")
        stack.extend((item, depth + 1) for item in items if isinstance(item, (dict, list)))
    return {}


def _field_name(name: str) -> str:
    """A field name safe to echo in an error body."""
    return _UNSTORABLE.sub("\ufffd", name)


def _screen_address() -> None:
    if _UNSTORABLE.search(request.path):
        raise BadRequest("The address contains characters that cannot be used (NUL).")
    if not request.query_string:  # most requests carry none: parsing nothing still costs (werkzeug's parse_qsl)
        return
    problems = {}
    for key, values in request.args.lists():
        for value in [key, *values]:
            problem = text_problem(value)
            if problem:
                problems[_field_name(key)] = [problem]
    if problems:
        raise BadRequest("A query parameter contains characters that cannot be used.", {"fields": problems})


async def screen_request() -> None:
    """Refuse hostile input once, for every route: a 400 or 422 naming the field, and nothing reaches a view."""
    _screen_address()
    if request.method not in BODY_METHODS:
        return
    mimetype = request.mimetype
    if is_json_type(mimetype):
        raw = await request.get_data(cache=True, as_text=False)
        if not raw:
            return
        data = decode_json(raw)
        problems = json_problems(raw, data)
        if problems:
            raise ValidationError("Some fields contain characters that cannot be stored.", {"fields": problems})
        g.json_body = data
        # Quart's own get_json() would re-decode the body leniently; hand it the strict result instead
        request._cached_json = {True: data, False: data}
    elif mimetype in FORM_TYPES:
        form, files = await request.form, await request.files
        problems = {}
        for key, values in form.lists():
            for value in [key, *values]:
                problem = text_problem(value)
                if problem:
                    problems[_field_name(key)] = [problem]
        for key, upload in files.items():
            problem = text_problem(upload.filename or "")
            if problem:
                problems[_field_name(key)] = ["The file name: " + problem[0].lower() + problem[1:]]
        if problems:
            raise ValidationError("Some fields contain characters that cannot be stored.", {"fields": problems})
