"""response_format: text, json_object and json_schema refined; anything unenforceable is a 400."""

from __future__ import annotations

import json
from typing import Any

import pytest
from returns.result import Failure

from mlxfn.domain.errors import InvalidRequest, error_status
from mlxfn.domain.response_format import TEXT, JsonObjectFormat, JsonSchemaFormat
from mlxfn.wire.requests import parse_chat_request

POINT = {
    "type": "object",
    "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
    "required": ["x", "y"],
    "additionalProperties": False,
}


def body(response_format: Any) -> bytes:
    return json.dumps(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "response_format": response_format,
        }
    ).encode()


def parsed(response_format: Any) -> object:
    return parse_chat_request(body(response_format)).unwrap().response_format


def rejected(response_format: Any) -> InvalidRequest:
    match parse_chat_request(body(response_format)):
        case Failure(InvalidRequest() as err):
            assert error_status(err) == 400
            return err
        case other:
            pytest.fail(f"expected Failure(InvalidRequest), got {other!r}")


def test_text_and_absent_are_free_text() -> None:
    assert parsed({"type": "text"}) == TEXT
    assert parsed(None) == TEXT


def test_json_object() -> None:
    assert parsed({"type": "json_object"}) == JsonObjectFormat()


def test_json_schema_keeps_name_schema_description_and_strict() -> None:
    spec = {"name": "point", "schema": POINT, "strict": True, "description": "a point"}
    fmt = parsed({"type": "json_schema", "json_schema": spec})
    assert isinstance(fmt, JsonSchemaFormat)
    assert (fmt.name, fmt.schema_object, fmt.strict, fmt.description) == (
        "point",
        POINT,
        True,
        "a point",
    )


def test_json_schema_without_schema_is_any_json() -> None:
    fmt = parsed({"type": "json_schema", "json_schema": {"name": "anything"}})
    assert isinstance(fmt, JsonSchemaFormat)
    assert fmt.schema_object == {}
    assert not fmt.strict


@pytest.mark.parametrize(
    ("response_format", "param"),
    [
        ("json", "response_format"),
        ({}, "response_format.type"),
        ({"type": "xml"}, "response_format.type"),
        ({"type": 1}, "response_format.type"),
        ({"type": "json_schema"}, "response_format.json_schema"),
        ({"type": "json_schema", "json_schema": {}}, "response_format.json_schema.name"),
        (
            {"type": "json_schema", "json_schema": {"name": "a b", "schema": POINT}},
            "response_format.json_schema.name",
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "x" * 65, "schema": POINT}},
            "response_format.json_schema.name",
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "p", "schema": "object"}},
            "response_format.json_schema.schema",
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "p", "strict": "yes"}},
            "response_format.json_schema.strict",
        ),
    ],
    ids=str,
)
def test_malformed_response_format(response_format: Any, param: str) -> None:
    assert rejected(response_format).param == param


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "strin"},
        {"type": "string", "pattern": "(("},
        {"$ref": "#/$defs/missing"},
        {"type": "string", "format": "no-such-format"},
        {"type": "integer", "minimum": 5, "maximum": 1},
    ],
    ids=json.dumps,
)
def test_a_schema_llguidance_cannot_compile_is_a_400(schema: dict[str, Any]) -> None:
    err = rejected({"type": "json_schema", "json_schema": {"name": "s", "schema": schema}})
    assert err.param == "response_format.json_schema.schema"
    assert "cannot be enforced" in err.message
