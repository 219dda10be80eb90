"""The OpenAPI document of the JSON API, built from the URL map: every /api/v1 route with its real path, typed path
and query parameters, request body, a response for every status it can answer (the error body included), its
security, and links from what a POST creates to where it can be read.

Routes describe themselves with a few decorators (`returns`, `raises`, `query`) next to quart-schema's
`document_request`; list routes get their query parameters from their `Listing` (core.listing).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from quart_schema.openapi import OpenAPIProvider
from quart_schema.validation import QUART_SCHEMA_REQUEST_ATTRIBUTE
from werkzeug.routing import Rule
from werkzeug.routing.converters import AnyConverter, UUIDConverter

from webapp.core.edge import UNLIMITED_ENDPOINTS
from webapp.core.listing import LISTING_ATTR, Filter
from webapp.core.pagination import MAX_LIMIT
from webapp.core.permissions import ACCESS_ATTR, require_bound_credential

T = TypeVar("T")
API_PREFIX = "/api/v1/"
DOC_ATTR = "_closedloop_api_doc"
SLUG = r"[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?"
UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No content",
    303: "See other: the short-lived address of the file is in `Location`",
    304: "Not modified: the `ETag` sent in `If-None-Match` is still current",
    400: "The request is malformed: not JSON, a query parameter outside its choices, a bad cursor",
    401: "No valid credential",
    402: "The plan does not cover it: `details.limit`, `details.used`, `details.allowed` and `details.upgrade_url`",
    403: "Not allowed: a permission is missing (`details.missing`) or the credential may not use this route",
    404: "No such object, or it belongs to another organization",
    409: "Conflict: a stale `version` (`details.current` has the saved state) or a rule about the object's state",
    413: "The body is larger than the server accepts",
    422: "A field breaks a rule "
    "(`details.fields` names each; `details.source` is `schema` when the body itself does not match this document)",
    429: "Too many requests; `Retry-After` says when to come back",
}
TAGS = {
    "identity": "Sign-in, tokens and your account",
    "organizations": "Organizations, members and invitations",
    "iam": "Roles, permissions and role assignments",
    "apikeys": "API keys",
    "missions": "Missions and crews",
    "catalog": "Waste materials, processing modules and recipes",
    "simulations": "Products and simulation runs",
    "ops": "System checks",
    "collaboration": "Comments on missions, crew, catalog items, runs and products",
    "search": "Full-text search over the organization and rebuilding its index",
    "billing": "Plans, subscriptions, invoices and payments",
    "admin": "ClosedLoop staff only (everyone else gets 404)",
}


class Body(BaseModel):
    """A request body: unknown fields and values of the wrong JSON type are refused (strict), so what the
    document allows is exactly what the API accepts."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Page(BaseModel, Generic[T]):
    """One page of a list; `next_cursor` continues it (null at the end)."""

    items: list[T]
    next_cursor: str | None


class Items(BaseModel, Generic[T]):
    """A whole (short) list."""

    items: list[T]


class PageQuery(BaseModel):
    """Query of a list paged by cursor alone."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(25, ge=1, le=MAX_LIMIT, description="Items per page")
    cursor: str | None = Field(None, description="`next_cursor` of the previous page; empty: the first page")


def _integral(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def whole(ge: int | None = None, le: int | None = None) -> Any:
    """A whole number as JSON Schema means it: 3 or 3.0, never "3" or true (bodies are strict otherwise), within
    [ge, le] (the bounds sit inside the type, so the document shows them as minimum/maximum)."""
    return Annotated[int, Field(ge=ge, le=le), BeforeValidator(_integral)]


VERSION = whole(1, 2**31 - 1)  # the version read, for optimistic locking
TagList = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=40, pattern=r"^#?[\w][\w.+/-]*$")]],
    Field(max_length=20, description="Labels to group and find it by (lower-cased; duplicates dropped)"),
]


def places(digits: int) -> dict:
    """JSON Schema for a number with at most `digits` decimal places (the services refuse more; pydantic's own
    multiple_of check would trip over binary fractions, so this only documents)."""
    return {"multipleOf": float(Decimal(1).scaleb(-digits))}


class ErrorBody(BaseModel):
    """Every error answer: a stable name, a sentence for people, and details (`fields`, `missing`, `current`...)."""

    model_config = ConfigDict(title="Error")

    error: str = Field(description="BadRequest, Unauthorized, Forbidden, NotFound, Conflict, ValidationError, ...")
    message: str
    details: dict[str, Any]


@dataclass
class ApiDoc:
    """What a route says about itself beyond its path and body."""

    responses: dict[int, Any] = field(default_factory=dict)  # status -> model, None (no body) or "event-stream"
    errors: set[int] = field(default_factory=set)
    query: type[BaseModel] | None = None
    creates: str | None = None  # endpoint that reads what a 201 made (Location and links)


def doc_of(view: Callable) -> ApiDoc:
    """The view's ApiDoc, created on first use."""
    found = getattr(view, DOC_ATTR, None)
    if found is None:
        found = ApiDoc()
        setattr(view, DOC_ATTR, found)
    return found


def returns(model: Any = None, status: int = 200, *, creates: str | None = None) -> Callable:
    """Document a success answer: a pydantic model, None for no body, or "event-stream"; `creates` names the
    endpoint that reads the created object (its Location)."""

    def decorate(view: Callable) -> Callable:
        api = doc_of(view)
        api.responses[status] = model
        if creates:
            api.creates = creates
        return view

    return decorate


def raises(*statuses: int) -> Callable:
    """Document error statuses beyond the ones every route of its kind can answer (409, 429, ...)."""

    def decorate(view: Callable) -> Callable:
        doc_of(view).errors.update(statuses)
        return view

    return decorate


def query(model: type[BaseModel]) -> Callable:
    """Document the query parameters of a route that is not a Listing (one field per parameter)."""

    def decorate(view: Callable) -> Callable:
        doc_of(view).query = model
        return view

    return decorate


def path_of(rule: Rule) -> str:
    """`/api/v1/missions/<uuid:mission_id>` -> `/api/v1/missions/{mission_id}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)


def api_rules(url_map) -> list[Rule]:
    """The JSON API's rules (the document itself and its browsable page excluded), in path order."""
    return sorted(
        (
            r
            for r in url_map.iter_rules()
            if r.rule.startswith(API_PREFIX) and r.endpoint not in ("openapi", "api_docs.page")
        ),
        key=lambda r: (r.rule, r.endpoint),
    )


RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": {"description": "Requests a minute in the tightest window that counts this request (API key, "
                        "person, organization, or address)", "schema": {"type": "integer", "minimum": 1}},
    "RateLimit-Remaining": {"description": "Requests left in that window", "schema": {"type": "integer", "minimum": 0}},
    "RateLimit-Reset": {"description": "Seconds until that window has room again",
                        "schema": {"type": "integer", "minimum": 1}},
}  # fmt: skip
IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Makes a retry safe: for 24 hours the same key with the same request gets the first answer again "
                   "(with `Idempotent-Replayed: true`); with a different request it is a 422, while the first still "
                   "runs a 409.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7E]+$"},
}  # fmt: skip


class ApiDocument(OpenAPIProvider):
    """quart-schema's provider, replaced: the document describes exactly the /api/v1 JSON API."""

    _cache: dict | None = None

    def schema(self) -> dict[str, Any]:
        """The whole document (built once per process: routes do not change while it runs)."""
        if self._cache is None:
            self._cache = self._build()
        return self._cache

    def _build(self) -> dict[str, Any]:
        self.components: dict[str, Any] = {}
        paths: dict[str, dict] = {}
        used_ids: set[str] = set()
        rules = api_rules(self._app.url_map)
        for rule in rules:
            view = self._app.view_functions[rule.endpoint]
            item = paths.setdefault(path_of(rule), {})
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                operation = self._operation(rule, method, view)
                operation["operationId"] = self._operation_id(rule, method, used_ids)
                item[method.lower()] = operation
        self._add_links(paths, rules)
        _forbid_nul(paths)
        _forbid_nul(self.components)
        info = self._extension.info.schema(camelize=True) if self._extension.info else {}
        return {
            "openapi": "3.1.0",
            "info": info | {"description": _DESCRIPTION},
            "servers": [{"url": "/", "description": "This ClosedLoop server"}],
            "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
            "paths": paths,
            "components": {
                "schemas": dict(sorted(self.components.items())),
                "securitySchemes": {
                    "bearer": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": (
                            "An API key (`cl_live_…`, bound to one organization, limited to its scopes) or an access "
                            "token from `POST /api/v1/auth/login` (bound to the organization it was issued for)."
                        ),
                    },
                    "session": {
                        "type": "apiKey",
                        "in": "cookie",
                        "name": "cl_session",
                        "description": (
                            "The browser's session cookie; writes also send `X-CSRF-Token`. Production names it "
                            "`__Host-cl_session`."
                        ),
                    },
                },
            },
        }

    # ------------------------------------------------------------------ one operation

    def _operation(self, rule: Rule, method: str, view: Callable) -> dict[str, Any]:
        api = doc_of(view)
        summary, _, description = (inspect.getdoc(view) or rule.endpoint).partition("\n")
        operation: dict[str, Any] = {"tags": [_tag(view)], "summary": summary.strip()}
        if description.strip():
            operation["description"] = description.strip()
        parameters = [self._path_parameter(name, rule._converters[name]) for name in rule.arguments]
        listing = getattr(view, LISTING_ATTR, None)
        if listing is not None:
            parameters += self._listing_parameters(listing[0], set(rule.arguments))
        if api.query is not None:
            parameters += self._model_parameters(api.query)
        access = getattr(view, ACCESS_ATTR, ("requires", ()))
        if method == "POST" and access[0] != "public":
            parameters.append(IDEMPOTENCY_PARAMETER)
        if parameters:
            operation["parameters"] = parameters
        body = getattr(view, QUART_SCHEMA_REQUEST_ATTRIBUTE, None)
        if body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": self._model(body[0], "validation")}},
            }
        operation["responses"] = self._responses(
            rule, method, api, view, has_body=body is not None, has_query=listing is not None or api.query is not None
        )
        if access[0] == "public":
            operation["security"] = []
        elif require_bound_credential in self._app.before_request_funcs.get(rule.endpoint.rsplit(".", 1)[0], []):
            operation["security"] = [{"bearer": []}]
        else:
            operation["security"] = [{"bearer": []}, {"session": []}]
        if access[0] == "requires" and access[1]:
            operation["x-permissions"] = list(access[1])
        return operation

    def _responses(
        self, rule: Rule, method: str, api: ApiDoc, view: Callable, *, has_body: bool, has_query: bool
    ) -> dict:
        responses: dict[str, Any] = {}
        for status, model in sorted(api.responses.items()):
            response: dict[str, Any] = {"description": REASONS.get(status, "OK")}
            if model == "event-stream":
                response["content"] = {
                    "text/event-stream": {
                        "schema": {
                            "type": "object",
                            "required": ["data"],
                            "description": (
                                "One server-sent event: `state` with the run's state as JSON, first the current "
                                "one, then "
                                "one per change; `done` once it is final. Comment lines keep the stream alive."
                            ),
                            "properties": {
                                "event": {"type": "string", "enum": ["state", "done"]},
                                "data": {"type": "string"},
                                "id": {"type": "string"},
                            },
                        }
                    }
                }
            elif model is not None:
                response["content"] = {"application/json": {"schema": self._model(model, "serialization")}}
            if status == 303:
                response["headers"] = {
                    "Location": {
                        "description": "Where to fetch the bytes (valid 5 minutes)",
                        "schema": {"type": "string"},
                    }
                }
            if status in (200, 304) and 304 in api.responses:
                tag = {"description": "Send it back in `If-None-Match` to get a 304", "schema": {"type": "string"}}
                response["headers"] = {"ETag": tag}
            if status in (201, 202) and api.creates:
                response["headers"] = {
                    "Location": {"description": "Where the created object can be read", "schema": {"type": "string"}}
                }
            if rule.endpoint not in UNLIMITED_ENDPOINTS:
                response["headers"] = response.get("headers", {}) | RATE_LIMIT_HEADERS
            responses[str(status)] = response
        if not responses:
            raise RuntimeError(f"{rule.endpoint} documents no success answer (add @returns)")
        errors = set(api.errors)
        access = getattr(view, ACCESS_ATTR, ("requires", ()))
        if access[0] != "public":
            errors |= {401, 403}
            if method in ("POST", "PUT", "PATCH", "DELETE"):
                errors.add(409)  # a write can always meet a concurrent change of the same row
                errors.add(402)  # and a plan's limit, or an organization read-only until a payment is made
        if rule.arguments or access[0] != "public":
            errors.add(404)  # an id in the path can name nothing (or another organization's object)
        if has_body:
            errors |= {400, 413, 422}
        if has_query:
            errors.add(400)
        if rule.endpoint not in UNLIMITED_ENDPOINTS:
            errors.add(429)  # every window: key, person, organization, or address
        if method == "POST" and access[0] != "public":
            errors |= {400, 409, 422}  # a malformed Idempotency-Key; its request still running; reused differently
        error = self._model(ErrorBody, "serialization")
        for status in sorted(errors):
            response = {"description": REASONS[status], "content": {"application/json": {"schema": error}}}
            if status == 429:
                response["headers"] = {
                    "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer", "minimum": 1}}
                } | RATE_LIMIT_HEADERS
            responses[str(status)] = response
        return responses

    # ------------------------------------------------------------------ parameters

    @staticmethod
    def _path_parameter(name: str, converter) -> dict[str, Any]:
        if isinstance(converter, UUIDConverter):
            schema = {"type": "string", "format": "uuid"}
        elif isinstance(converter, AnyConverter):
            schema = {"type": "string", "enum": sorted(converter.items)}
        elif type(converter).__name__ == "OrgRefConverter":
            schema = {
                "type": "string",
                "pattern": f"^(?:{UUID}|{SLUG})$",
                "description": "The organization's id or its address (slug)",
            }
        else:
            schema = {"type": "string"}
        return {"name": name, "in": "path", "required": True, "schema": schema}

    @staticmethod
    def _listing_parameters(listing, in_path: set[str]) -> list[dict[str, Any]]:
        params = []
        for name, rule in listing.filters.items():
            if name in in_path:
                continue
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": False,
                    "schema": _filter_schema(rule),
                    "description": rule.description or _filter_description(rule),
                }
            )
        sorts = [f"{name}:{direction}" for name in sorted(listing.sorts) for direction in ("asc", "desc")]
        params += [
            {
                "name": "sort",
                "in": "query",
                "required": False,
                "description": (
                    f"Order: a field and a direction; default `{listing.default_sort.text}`. An empty value means the "
                    "default."
                ),
                "schema": {"type": "string", "enum": ["", *sorted(listing.sorts), *sorts]},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": "Items per page",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 25},
            },
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "description": (
                    "`next_cursor` of the previous page (of the same sort); empty or absent: the first page"
                ),
                "schema": {"type": "string"},
            },
        ]
        return params

    def _model_parameters(self, model: type[BaseModel]) -> list[dict[str, Any]]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            self.components.setdefault(name, definition)
        required = set(schema.get("required", []))
        params = []
        for name, prop in schema["properties"].items():
            prop = dict(prop)
            description = prop.pop("description", None)
            prop.pop("title", None)
            param = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if description:
                param["description"] = description
            params.append(param)
        return params

    # ------------------------------------------------------------------ schemas, ids, links

    def _model(self, model: Any, mode: str) -> dict[str, Any]:
        """A $ref to the model's schema in components (its nested models too)."""
        from pydantic import TypeAdapter

        schema = TypeAdapter(model).json_schema(ref_template="#/components/schemas/{model}", mode=mode)
        definitions = schema.pop("$defs", {})
        renames = {name: _component_name(name) for name in definitions}
        schema = _rename_refs(schema, renames)
        for name, definition in definitions.items():
            self.components.setdefault(renames[name], _rename_refs(definition, renames))
        name = _component_name(schema.get("title") or getattr(model, "__name__", ""))
        if name and schema.get("type") == "object":
            existing = self.components.setdefault(name, schema)
            if existing != schema:  # the same model read and written: keep both shapes apart
                name = f"{name}{mode.title()}"
                self.components.setdefault(name, schema)
            return {"$ref": f"#/components/schemas/{name}"}
        return schema

    @staticmethod
    def _operation_id(rule: Rule, method: str, used: set[str]) -> str:
        """`missions_api.list_missions` -> `listMissions`; a second rule of the same endpoint gets its path's last
        word appended."""
        words = rule.endpoint.rsplit(".", 1)[-1].split("_")
        name = words[0] + "".join(w.title() for w in words[1:])
        if name in used:
            tail = [p for p in rule.rule.split("/") if p and not p.startswith("<")][-1]
            name += "".join(w.title() for w in re.split(r"[-_]", tail))
        if name in used:
            name += method.title()
        used.add(name)
        return name

    def _add_links(self, paths: dict, rules: list[Rule]) -> None:
        """A 201 links to every operation on the path of what it created, with the new id as that path's id."""
        by_endpoint = {rule.endpoint: rule for rule in rules}
        for rule in rules:
            api = doc_of(self._app.view_functions[rule.endpoint])
            if not api.creates or api.creates not in by_endpoint:
                continue
            target = by_endpoint[api.creates]
            item_path = path_of(target)
            id_name = target.arguments and [a for a in target.rule.split("<") if a][-1].split(">")[0].split(":")[-1]
            links = {}
            for method, operation in paths[item_path].items():
                parameters = {name: f"$request.path.{name}" for name in target.arguments if name in rule.arguments}
                parameters[id_name] = "$response.body#/id"
                links[operation["operationId"]] = {"operationId": operation["operationId"], "parameters": parameters}
                if method == "get":
                    links[operation["operationId"]]["description"] = "Read what was just created"
            for method in rule.methods & {"POST"}:
                responses = paths[path_of(rule)][method.lower()]["responses"]
                responses["201" if "201" in responses else "202"]["links"] = links


NO_NUL = "^[^\\u0000]*$"


def _forbid_nul(schema: Any) -> None:
    """Every free-text string says what the edge enforces (webapp.core.edge): no NUL character."""
    if isinstance(schema, dict):
        if schema.get("type") == "string" and not {"enum", "const", "pattern", "format"} & set(schema):
            schema["pattern"] = NO_NUL
        for value in schema.values():
            _forbid_nul(value)
    elif isinstance(schema, list):
        for item in schema:
            _forbid_nul(item)


def _component_name(name: str) -> str:
    """`Page[MissionOut]` -> `MissionOutPage` (component names allow letters, digits, `.`, `-`, `_`)."""
    generic = re.fullmatch(r"(\w+)\[(\w+)\]", name)
    if generic:
        return f"{generic.group(2)}{'List' if generic.group(1) == 'Items' else generic.group(1)}"
    return re.sub(r"[^A-Za-z0-9._-]", "", name)


def _rename_refs(schema: Any, renames: dict[str, str]) -> Any:
    """The schema with $refs to renamed components pointing at their new names."""
    if isinstance(schema, dict):
        out = {}
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                target = value.rsplit("/", 1)[-1]
                value = f"#/components/schemas/{renames.get(target, target)}"
            out[key] = _rename_refs(value, renames)
        return out
    if isinstance(schema, list):
        return [_rename_refs(item, renames) for item in schema]
    return schema


def _tag(view: Callable) -> str:
    module = view.__module__.split(".")
    return module[1] if len(module) > 1 and module[1] in TAGS else "api"


def _filter_schema(rule: Filter) -> dict[str, Any]:
    if rule.choices:
        return {"type": "string", "enum": ["", *rule.choices]}
    if rule.is_id:
        return {"anyOf": [{"type": "string", "format": "uuid"}, {"type": "string", "maxLength": 0}]}
    return {"type": "string"}


def _filter_description(rule: Filter) -> str:
    if rule.choices:
        return "One of the listed values; empty: any"
    if rule.is_id:
        return "An id; empty: any"
    return "Text to look for"


_DESCRIPTION = """The ClosedLoop JSON API: missions, crews, the waste-processing catalog, products and simulation
runs, members, roles and API keys of an organization.

**Credentials.** Send `Authorization: Bearer <key>`: an API key (made under your account's API keys, bound to one
organization and its scopes) or an access token from `POST /api/v1/auth/login`. Routes under
`/api/v1/organizations/{org_id}/…` also accept the browser's session cookie (writes then need `X-CSRF-Token`);
`{org_id}` is the organization's id or its address. Routes that name no organization (`/api/v1/missions/{id}`…)
serve bearer credentials only: the credential names the organization.

**Errors** share one body, `{"error", "message", "details"}`: 400 malformed, 401 no credential, 403 a missing
permission (`details.missing`), 404 missing or another organization's, 409 a stale `version` (`details.current`)
or a conflicting state, 422 a field breaking a rule (`details.fields`), 429 slow down (`Retry-After`).

**Lists** page by cursor: `limit` (1–100) and `cursor` (the previous page's `next_cursor`)."""
