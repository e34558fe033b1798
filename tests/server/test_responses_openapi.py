"""``/openapi.json`` for the Responses API: its request schema lists the wire body's fields and
agrees with the parser on sample bodies; what the server renders validates against it."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from returns.result import Success

from mlxfn.wire.codec import encode_json
from mlxfn.wire.responses_api_bodies import ResponsesBody
from mlxfn.wire.responses_api_requests import build_chat_request, parse_responses_request
from tests.schemas import mlxfn_validator


def test_the_request_schema_lists_the_wire_bodys_fields(document: dict[str, Any]) -> None:
    schema = document["components"]["schemas"]["ResponsesBody"]
    assert set(schema["properties"]) == {f.name for f in attrs.fields(ResponsesBody)}
    assert schema["required"] == ["model"]
    paths = document["paths"]
    assert set(paths["/v1/responses/{response_id}"]) == {"parameters", "get", "delete"}


def _body(**fields: Any) -> dict[str, Any]:
    return {"model": "tiny", "input": "hi", **fields}


@pytest.mark.parametrize(
    ("instance", "valid"),
    [
        (_body(), True),
        (_body(input=[{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}]), True),
        (
            _body(
                input=[
                    {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
                    {"type": "function_call_output", "call_id": "c", "output": "1"},
                ]
            ),
            True,
        ),
        (_body(input=[{"type": "reasoning"}, {"role": "user", "content": "x"}]), True),
        (_body(tools=[{"type": "function", "name": "f"}], tool_choice="required"), True),
        (_body(text={"format": {"type": "json_schema", "name": "p", "schema": {}}}), True),
        (_body(include=["reasoning.encrypted_content"], store=False), True),
        (
            _body(
                tools=[
                    {
                        "type": "namespace",
                        "name": "n",
                        "tools": [{"type": "function", "name": "f"}],
                    },
                    {"type": "web_search"},
                ]
            ),
            True,
        ),
        ({"model": "tiny"}, False),
        (_body(input=[]), False),
        (_body(input=[{"type": "input_image"}]), False),
        (_body(tools=[{"type": "file_search"}]), False),
        (_body(tool_choice="required"), False),
        (_body(text={"format": {"type": "json_schema"}}), False),
        (_body(reasoning={"effort": "low"}), False),
        (_body(background=True), False),
        (_body(truncation="auto"), False),
        (_body(max_output_tokens=0), False),
        (_body(stream_options={"include_obfuscation": False}), False),
    ],
)
def test_the_schema_and_the_parser_agree(
    document: dict[str, Any], instance: dict[str, Any], valid: bool
) -> None:
    schema_says = mlxfn_validator(document, "ResponsesBody").is_valid(instance)
    # with no stored turn: an empty input is refused once the turn is made a chat
    parsed = parse_responses_request(encode_json(instance))
    parser_says = isinstance(parsed.bind(lambda r: build_chat_request(r, ())), Success)
    assert (schema_says, parser_says) == (valid, valid)
