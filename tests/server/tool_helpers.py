"""The tools that the forced-call tests offer a random-weight model, a conversation that used
them, and the check that a call is one of them and matches its schema.

The schemas bound every value and close their objects (as OpenAI's strict mode does): a random
model in a free string or an open object writes until it runs out of tokens, valid all the
while."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

QUESTION = "What's the weather in Oslo?"
WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "maxLength": 10},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
ADD: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "Add two numbers",
        "parameters": {
            "type": "object",
            "properties": {
                "a": {"type": "integer", "minimum": 0, "maximum": 999},
                "b": {"type": "integer", "minimum": 0, "maximum": 999},
            },
            "required": ["a", "b"],
            "additionalProperties": False,
        },
    },
}
TOOLS = [WEATHER, ADD]
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
NAMED_ADD = {"type": "function", "function": {"name": "add"}}

HISTORY: list[dict[str, Any]] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": QUESTION},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "arguments": json.dumps({"city": "Oslo", "unit": "celsius"}),
                },
            },
            {
                "id": "call_2",
                "type": "function",
                "function": {"name": "add", "arguments": json.dumps({"a": 1, "b": 2})},
            },
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": json.dumps({"temperature": 3})},
    {"role": "tool", "tool_call_id": "call_2", "content": "3"},
]


def valid_calls(calls: list[Any], names: set[str]) -> None:
    """There is a call, and each is a chat completions function call to one of ``names`` whose
    arguments match that tool's schema."""
    assert calls
    for call in calls:
        assert call.type == "function"
        assert call.id.startswith("call_")
        assert call.function.name in names
        jsonschema.validate(json.loads(call.function.arguments), SCHEMAS[call.function.name])
