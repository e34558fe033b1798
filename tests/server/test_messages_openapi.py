"""``/openapi.json`` for the Messages API: its request schemas list the wire bodies' fields and
agree with the parser on sample bodies; what the server renders validates against it."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from returns.result import Success

from mlxfn.engine.thread import Engine
from mlxfn.server.app import make_app
from mlxfn.wire.codec import encode_json
from mlxfn.wire.messages_api_bodies import CountTokensBody, MessagesBody
from mlxfn.wire.messages_api_requests import parse_count_tokens_request, parse_messages_request
from tests.schemas import mlxfn_validator

ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]


def test_the_request_schemas_list_the_wire_bodies_fields(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for body in (MessagesBody, CountTokensBody):
        assert set(schemas[body.__name__]["properties"]) == {f.name for f in attrs.fields(body)}
    assert schemas["MessagesBody"]["required"] == ["model", "messages", "max_tokens"]
    assert schemas["CountTokensBody"]["required"] == ["model", "messages"]


def _body(**fields: Any) -> dict[str, Any]:
    return {"model": "tiny", "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]} | (
        fields
    )


def _turns(*messages: dict[str, Any]) -> dict[str, Any]:
    return _body(messages=list(messages))


_WEATHER = {"name": "get_weather", "input_schema": {"type": "object"}}


@pytest.mark.parametrize(
    ("instance", "valid"),
    [
        (_body(), True),
        (_body(system=[{"type": "text", "text": "Be brief.", "cache_control": {}}]), True),
        (
            _turns(
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "t", "signature": ""},
                        {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "1"},
                        {"type": "text", "text": "and?"},
                    ],
                },
                {"role": "system", "content": "more context"},
            ),
            True,
        ),
        (_body(tools=[_WEATHER], tool_choice={"type": "tool", "name": "get_weather"}), True),
        (_body(tools=[{"type": "web_search_20250305", "name": "web_search"}, _WEATHER]), True),
        (_body(thinking={"type": "adaptive"}, output_config={"effort": "high"}), True),
        (_body(thinking={"type": "enabled", "budget_tokens": 1024}), True),
        (_body(stop_sequences=["END"], temperature=1, top_k=5, mcp_servers=[]), True),
        ({"model": "tiny", "messages": [{"role": "user", "content": "hi"}]}, False),
        (_body(messages=[]), False),
        (_body(temperature=1.5), False),
        (_body(max_tokens=0), False),
        (_turns({"role": "user", "content": [{"type": "image", "source": {}}]}), False),
        (
            _turns(
                {
                    "role": "user",
                    "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}],
                }
            ),
            False,
        ),
        (_body(tools=[{"type": "mystery", "name": "f"}]), False),
        (_body(tool_choice={"type": "any"}), False),
        (_body(tools=[_WEATHER], tool_choice={"type": "tool"}), False),
        (_body(thinking={"type": "enabled"}), False),
        (_body(output_config={"effort": "extreme"}), False),
        (_body(mcp_servers=[{"type": "url", "url": "u", "name": "n"}]), False),
        (_body(service_tier="priority"), False),
    ],
)
def test_the_schema_and_the_parser_agree(
    document: dict[str, Any], instance: dict[str, Any], valid: bool
) -> None:
    schema_says = mlxfn_validator(document, "MessagesBody").is_valid(instance)
    parser_says = isinstance(parse_messages_request(encode_json(instance)), Success)
    assert (schema_says, parser_says) == (valid, valid)
    counted = {
        k: v for k, v in instance.items() if k in {f.name for f in attrs.fields(CountTokensBody)}
    }
    if valid:
        assert mlxfn_validator(document, "CountTokensBody").is_valid(counted)
        assert isinstance(parse_count_tokens_request(encode_json(counted)), Success)


async def test_responses_match_their_documented_schemas(
    aiohttp_client: ClientFactory, engine: Engine, document: dict[str, Any]
) -> None:
    client = await aiohttp_client(make_app(engine))
    checks = [
        ("/v1/messages", _body(), "Message"),
        ("/v1/messages", _body(stop_sequences=["a"]), "Message"),
        ("/v1/messages", _body(temperature=3), "MessagesError"),
        ("/v1/messages", _body(model="claude"), "MessagesError"),
        (
            "/v1/messages/count_tokens",
            {"model": "tiny", "messages": [{"role": "user", "content": "hi"}]},
            "MessageTokensCount",
        ),
        ("/v1/messages/count_tokens", {"model": "tiny", "messages": []}, "MessagesError"),
    ]
    for path, body, name in checks:
        response = await client.post(path, json=body)
        mlxfn_validator(document, name).validate(await response.json())
    streamed = await client.post("/v1/messages", json=_body(stream=True))
    assert streamed.content_type == "text/event-stream"
    frames = (await streamed.read()).decode().removesuffix("\n\n").split("\n\n")
    for frame in frames:
        name, data = frame.split("\n")
        event = {"event": name.removeprefix("event: "), "data": data.removeprefix("data: ")}
        mlxfn_validator(document, "MessageEvent").validate(event)
        mlxfn_validator(document, "MessageStreamEvent").validate(json.loads(event["data"]))
    assert json.loads(frames[-1].split("\n")[1].removeprefix("data: ")) == {"type": "message_stop"}
