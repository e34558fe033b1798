"""Tool calling end to end: the shipped demo model (Hermes template) behind a real server,
driven by the official openai SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import attrs
import jsonschema
import openai
import pytest

from tests.conftest import StartServer
from tests.demo import DEMO_MODEL_DIR
from tests.demo.data import TOOLS
from tests.schemas import validate

WEATHER = "What's the weather in Tokyo?"


@pytest.fixture(scope="module")
def client(start_server: StartServer) -> Iterator[openai.OpenAI]:
    server = start_server("--model", str(DEMO_MODEL_DIR), "--served-model-name", "mlxfn-demo")
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0) as c:
        yield c


def ask(client: openai.OpenAI, content: str, **fields: Any) -> Any:
    return client.chat.completions.create(
        model="mlxfn-demo",
        messages=[{"role": "user", "content": content}],
        temperature=0,
        max_tokens=64,
        **fields,
    )


@attrs.define
class StreamedCalls:
    """A stream's content, finish reason and tool calls, folded from its validated chunks."""

    content: str = ""
    finish: str | None = None
    ids: dict[int, str] = attrs.field(factory=dict)
    names: dict[int, str] = attrs.field(factory=dict)
    arguments: dict[int, str] = attrs.field(factory=dict)


def read_stream(chunks: Any) -> StreamedCalls:
    read = StreamedCalls()
    for chunk in chunks:
        validate(
            chunk.model_dump(mode="json", exclude_unset=True), "CreateChatCompletionStreamResponse"
        )
        delta = chunk.choices[0].delta
        read.content += delta.content or ""
        for part in delta.tool_calls or []:
            if part.id:
                read.ids[part.index] = part.id
            if part.function and part.function.name:
                read.names[part.index] = part.function.name
            if part.function and part.function.arguments:
                so_far = read.arguments.get(part.index, "")
                read.arguments[part.index] = so_far + part.function.arguments
        read.finish = chunk.choices[0].finish_reason or read.finish
    return read


def test_a_tool_call_comes_back_parsed(client: openai.OpenAI) -> None:
    reply = ask(client, WEATHER, tools=[TOOLS["get_weather"], TOOLS["add"]])
    validate(reply.model_dump(mode="json", exclude_unset=True), "CreateChatCompletionResponse")
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.type == "function"
    assert call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert set(json.loads(call.function.arguments)) == {"city"}
    assert "<tool_call>" not in (choice.message.content or "")


def test_streamed_tool_call_deltas_add_up_to_the_call(client: openai.OpenAI) -> None:
    tools = [TOOLS["get_weather"], TOOLS["add"]]
    whole = ask(client, WEATHER, tools=tools).choices[0].message.tool_calls or []
    read = read_stream(ask(client, WEATHER, tools=tools, stream=True))
    assert read.finish == "tool_calls"
    assert "<tool_call>" not in read.content
    assert [read.names[i] for i in sorted(read.names)] == [c.function.name for c in whole]
    assert [read.arguments[i] for i in sorted(read.arguments)] == [
        c.function.arguments for c in whole
    ]
    assert all(i.startswith("call_") for i in read.ids.values())


def test_a_tool_result_round_trips_through_the_template(client: openai.OpenAI) -> None:
    call = {"name": "get_weather", "arguments": json.dumps({"city": "Oslo"})}
    result = {"city": "Oslo", "temperature": 3, "condition": "snowy"}
    reply = client.chat.completions.create(
        model="mlxfn-demo",
        messages=[
            {"role": "user", "content": "What's the weather in Oslo?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "call_1", "type": "function", "function": call}],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": json.dumps(result)},
        ],
        tools=[TOOLS["get_weather"]],
        temperature=0,
        max_tokens=48,
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "stop"
    assert not choice.message.tool_calls
    assert "snowy" in (choice.message.content or "")


def test_without_parallel_calls_at_most_one_comes(client: openai.OpenAI) -> None:
    reply = ask(client, WEATHER, tools=[TOOLS["get_weather"]], parallel_tool_calls=False)
    assert reply.choices[0].finish_reason == "tool_calls"
    assert len(reply.choices[0].message.tool_calls or []) == 1
    assert reply.choices[0].message.content is None


def test_tool_choice_none_keeps_tools_out_of_the_answer(client: openai.OpenAI) -> None:
    reply = ask(client, WEATHER, tools=[TOOLS["get_weather"]], tool_choice="none")
    choice = reply.choices[0]
    assert not choice.message.tool_calls
    assert choice.finish_reason in ("stop", "length")
    assert "<tool_call>" not in (choice.message.content or "")


def test_tool_choice_none_bans_the_call_marker(client: openai.OpenAI) -> None:
    """Even a bias that all but forces the call-start token cannot start a call."""
    tokens = client.post(
        "/tokenize", body={"model": "mlxfn-demo", "text": "<tool_call>"}, cast_to=object
    )
    (start,) = tokens["tokens"]  # type: ignore[index]
    pushed = {"logit_bias": {str(start): 100}}
    forced = ask(client, WEATHER, **pushed)  # no tools at all: the bias wins
    assert "<tool_call>" in (forced.choices[0].message.content or "")
    reply = ask(client, WEATHER, tools=[TOOLS["get_weather"]], tool_choice="none", **pushed)
    assert not reply.choices[0].message.tool_calls
    assert "<tool_call>" not in (reply.choices[0].message.content or "")


CAPITAL = "What is the capital of Japan?"


@pytest.mark.parametrize("seed", [None, 1, 2])
def test_a_named_tool_choice_forces_that_call(client: openai.OpenAI, seed: int | None) -> None:
    # a question the model answers in words when free: only the grammar makes it call add
    fields: dict[str, Any] = {"temperature": 1, "seed": seed} if seed is not None else {}
    reply = client.chat.completions.create(
        model="mlxfn-demo",
        messages=[{"role": "user", "content": CAPITAL}],
        tools=[TOOLS["get_weather"], TOOLS["add"]],
        tool_choice={"type": "function", "function": {"name": "add"}},
        max_tokens=64,
        **({"temperature": 0} | fields),
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert calls
    assert {call.function.name for call in calls} == {"add"}
    for call in calls:
        jsonschema.validate(
            json.loads(call.function.arguments), TOOLS["add"]["function"]["parameters"]
        )


def test_required_forces_a_call_also_when_streaming(client: openai.OpenAI) -> None:
    tools = [TOOLS["get_weather"], TOOLS["add"]]
    read = read_stream(ask(client, CAPITAL, tools=tools, tool_choice="required", stream=True))
    assert read.finish == "tool_calls"
    assert read.names
    assert read.content == ""
    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in tools}
    for index, name in read.names.items():
        jsonschema.validate(json.loads(read.arguments[index]), schemas[name])


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        (
            {"tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice.function.name",
        ),
        (
            {"tool_choice": "required", "response_format": {"type": "json_object"}},
            "response_format",
        ),
    ],
    ids=["unknown-name", "forced-and-json"],
)
def test_tool_choices_that_cannot_be_honoured_are_a_400(
    client: openai.OpenAI, fields: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client, WEATHER, tools=[TOOLS["get_weather"], TOOLS["add"]], **fields)
    body: Any = caught.value.body
    assert body["param"] == param


def test_streamed_logprobs_of_a_tool_call_add_up_to_the_json(client: openai.OpenAI) -> None:
    """The call's tokens reach no content chunk: their logprobs ride on the finish chunk."""
    fields: dict[str, Any] = {"tools": [TOOLS["get_weather"]], "logprobs": True}
    whole = ask(client, WEATHER, **fields).choices[0]
    assert whole.finish_reason == "tool_calls"
    streamed: list[Any] = []
    for chunk in ask(client, WEATHER, stream=True, **fields):
        logprobs = chunk.choices[0].logprobs if chunk.choices else None
        if logprobs is not None:
            streamed.extend(logprobs.content or [])
    assert whole.logprobs is not None
    assert [t.model_dump() for t in streamed] == [t.model_dump() for t in whole.logprobs.content]
