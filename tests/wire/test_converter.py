"""The wire converter: strict primitives, string-or-array unions, and JSON paths as params."""

from __future__ import annotations

from typing import Any

import pytest
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.wire.bodies import ChatBody, ContentPartBody, StreamOptionsBody, UserBody
from mlxfn.wire.converter import structure_as


def param_of(result: Result[Any, ApiError]) -> str | None:
    """The param of the InvalidRequest a result failed with."""
    match result:
        case Failure(InvalidRequest(param=param)):
            return param
        case other:
            raise AssertionError(f"expected an InvalidRequest, got {other!r}")


MINIMAL: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def test_minimal_body() -> None:
    body = structure_as(MINIMAL, ChatBody).unwrap()
    assert (body.model, body.messages) == ("m", (UserBody("hi"),))


def test_string_stop_stays_one_string() -> None:
    assert structure_as({**MINIMAL, "stop": "END"}, ChatBody).unwrap().stop == "END"
    assert structure_as({**MINIMAL, "stop": ["END"]}, ChatBody).unwrap().stop == ("END",)


def test_content_parts_are_structured() -> None:
    raw = {**MINIMAL, "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}]}
    body = structure_as(raw, ChatBody).unwrap()
    assert body.messages == (UserBody((ContentPartBody("text", "a"),)),)


def test_integer_is_a_valid_float() -> None:
    temperature = structure_as({**MINIMAL, "temperature": 1}, ChatBody).unwrap().temperature
    assert (temperature, type(temperature)) == (1.0, float)


@pytest.mark.parametrize(
    ("field", "value", "param"),
    [
        ("temperature", "1", "temperature"),
        ("max_tokens", "3", "max_tokens"),
        ("max_tokens", True, "max_tokens"),
        ("max_tokens", 3.0, "max_tokens"),
        ("stream", 0, "stream"),
        ("model", ["m"], "model"),
        ("metadata", [], "metadata"),
        ("stream_options", "x", "stream_options"),
    ],
)
def test_no_coercion(field: str, value: object, param: str) -> None:
    assert param_of(structure_as({**MINIMAL, field: value}, ChatBody)) == param


def test_nested_paths() -> None:
    assert structure_as({"include_usage": 1}, StreamOptionsBody) == Failure(
        InvalidRequest(
            "'include_usage': expected a boolean or null, got a number", param="include_usage"
        )
    )
    assert structure_as([], StreamOptionsBody) == Failure(
        InvalidRequest("body: expected an object, got an array")
    )


def test_extra_keys_are_ignored() -> None:
    assert structure_as({"include_usage": True, "x": 1}, StreamOptionsBody) == Success(
        StreamOptionsBody(include_usage=True)
    )
