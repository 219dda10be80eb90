"""The typed client (clients/python) and the OpenAPI document cannot drift apart: every call the client makes is a
documented route with the same path parameters and success status, and every answer type has exactly the fields
(and required fields) of the component it mirrors."""

from __future__ import annotations

import re
import typing

import pytest
from closedloop_client import OPERATIONS
from closedloop_client.types import SCHEMAS, Items, Page


@pytest.fixture
async def document(client) -> dict:
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return await response.get_json()


def _resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _component(schema: dict) -> str:
    assert "$ref" in schema, schema
    return schema["$ref"].rsplit("/", 1)[1]


@pytest.mark.parametrize("name", sorted(OPERATIONS))
async def test_every_client_call_is_a_documented_route(document, name):
    op = OPERATIONS[name]
    item = document["paths"].get(op.path)
    assert item is not None, f"{name}: {op.path} is not in the document"
    documented = item.get(op.method.lower())
    assert documented is not None, f"{name}: {op.method} {op.path} is not documented"
    in_path = {p["name"] for p in documented.get("parameters", []) + item.get("parameters", []) if p["in"] == "path"}
    assert in_path == set(re.findall(r"{(\w+)}", op.path)), name
    assert str(op.status) in documented["responses"], f"{name}: {op.status} is not a documented answer"
    if op.returns is None or name == "follow_run":  # no body; an event stream (its events: the live test)
        return
    content = documented["responses"][str(op.status)]["content"]["application/json"]["schema"]
    origin = typing.get_origin(op.returns)
    if origin in (Page, Items):
        listed = _resolve(document, content)
        expected = {"items", "next_cursor"} if origin is Page else {"items"}
        assert set(listed["properties"]) == expected, name
        (item_type,) = typing.get_args(op.returns)
        assert _component(listed["properties"]["items"]["items"]) == SCHEMAS[item_type], name
    else:
        assert _component(content) == SCHEMAS[op.returns], name


@pytest.mark.parametrize("typed", list(SCHEMAS), ids=lambda t: t.__name__)
async def test_every_answer_type_has_the_fields_of_its_component(document, typed):
    component = document["components"]["schemas"][SCHEMAS[typed]]
    assert set(typed.__annotations__) == set(component["properties"]), typed.__name__
    assert set(typed.__required_keys__) == set(component.get("required", [])), typed.__name__


async def test_the_clients_run_types_are_the_documents(document):
    from closedloop_client.types import RUN_TYPES

    run_in = _resolve(document, document["components"]["schemas"]["RunIn"])
    assert set(_resolve(document, run_in["properties"]["run_type"])["enum"]) == set(RUN_TYPES)
