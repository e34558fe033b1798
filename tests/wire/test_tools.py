"""tools, tool_choice and parallel_tool_calls refined into a ToolSpec, or a 400 naming the field."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from mlxfn.domain.errors import InvalidRequest
from mlxfn.domain.tools import FunctionTool, ToolSpec
from mlxfn.wire.requests import parse_chat_request

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def _parse(**fields: Any) -> Any:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}
    return parse_chat_request(orjson.dumps(body))


def test_tools_become_a_tool_spec() -> None:
    spec = _parse(tools=[WEATHER], parallel_tool_calls=False).unwrap().tools
    assert spec == ToolSpec(
        tools=(FunctionTool(name="get_weather", description="Current weather in a city"),),
        choice="auto",
        parallel=False,
    )
    assert spec.tools[0].parameters == WEATHER["function"]["parameters"]  # type: ignore[index]


def test_no_tools_is_no_spec_and_harmless_choices_pass() -> None:
    assert _parse(tools=[], tool_choice="none").unwrap().tools is None
    assert _parse(tool_choice="auto", parallel_tool_calls=True).unwrap().tools is None


def test_a_forced_choice_is_refined() -> None:
    named = _parse(
        tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "get_weather"}}
    )
    assert [t.name for t in named.unwrap().tools.forced] == ["get_weather"]  # type: ignore[union-attr]
    required = _parse(tools=[WEATHER], tool_choice="required", parallel_tool_calls=False)
    assert required.unwrap().tools.choice == "required"  # type: ignore[union-attr]
    assert not required.unwrap().tools.parallel  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        (
            {"tools": [{"type": "function", "function": {"name": "bad name"}}]},
            "tools[0].function.name",
        ),
        ({"tools": [{"type": "function", "function": {}}]}, "tools[0].function.name"),
        ({"tools": [{"type": "function"}]}, "tools[0].function"),
        ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0].type"),
        ({"tools": [WEATHER, WEATHER]}, "tools[1].function.name"),
        (
            {
                "tools": [
                    {"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}
                ]
            },
            "tools[0].function.parameters",
        ),
        ({"tools": [WEATHER], "tool_choice": "maybe"}, "tool_choice"),
        ({"tools": [WEATHER], "tool_choice": {"type": "allowed_tools"}}, "tool_choice"),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice.function.name",
        ),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tool_choice": {"type": "function", "function": {"name": "f"}}}, "tool_choice"),
    ],
)
def test_invalid_tools_name_the_field(fields: dict[str, Any], param: str) -> None:
    err = _parse(**fields).failure()
    assert isinstance(err, InvalidRequest)
    assert err.param == param
