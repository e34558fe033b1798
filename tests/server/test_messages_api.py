"""``/v1/messages`` end to end: the official anthropic SDK against live servers, on the tiny
model (shapes, limits, errors, counting), on the demo model (answers that stop by themselves,
stop sequences, tool use) and on a model with SmolLM2's tokenizer (the very request Claude Code
sends). Every body is checked against the SDK's own pydantic types."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import jsonschema
import pydantic
import pytest
from anthropic.types import Message, MessageTokensCount, RawMessageStreamEvent

from tests.conftest import ServerProcess, StartServer
from tests.demo import DEMO_MODEL_DIR
from tests.demo.data import TOOLS
from tests.server.helpers import smol_tokenizer_llama

DEMO = "mlxfn-demo"
TINY = "tiny"
KEY = "sk-anthropic-test"
CAPITAL = "What is the capital of France?"
WEATHER = "What's the weather in Tokyo?"
REQUESTS = Path(__file__).resolve().parent / "agent_requests"
# This SDK has no temperature argument; greedy answers are the demo model's known ones.
GREEDY: dict[str, Any] = {"temperature": 0}
_EVENT: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RawMessageStreamEvent)


def anthropic_tool(name: str) -> dict[str, Any]:
    """A demo data tool in Anthropic's shape: name, description, input_schema."""
    function = TOOLS[name]["function"]
    return {
        "name": function["name"],
        "description": function["description"],
        "input_schema": function["parameters"],
    }


@pytest.fixture(scope="module")
def tiny_server(start_server: StartServer, tiny_model_dir: Path) -> ServerProcess:
    return start_server("--model", str(tiny_model_dir), "--served-model-name", TINY)


@pytest.fixture(scope="module")
def tiny(tiny_server: ServerProcess) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=tiny_server.url, api_key="x", max_retries=0) as client:
        yield client


@pytest.fixture(scope="module")
def demo_server(start_server: StartServer) -> ServerProcess:
    return start_server("--model", str(DEMO_MODEL_DIR), "--served-model-name", DEMO)


@pytest.fixture(scope="module")
def demo(demo_server: ServerProcess) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=demo_server.url, api_key="x", max_retries=0) as client:
        yield client


def check_message(message: Message) -> Message:
    """The body as sent parses strictly as the SDK's Message, and is a whole answer."""
    body = message.model_dump(mode="json", exclude_unset=True)
    again = Message.model_validate(body, strict=True)
    assert again.id.startswith("msg_")
    assert again.type == "message"
    assert again.role == "assistant"
    assert again.stop_reason in ("end_turn", "max_tokens", "stop_sequence", "tool_use")
    assert again.usage.cache_read_input_tokens is not None
    assert again.usage.cache_creation_input_tokens == 0
    return again


def text_of(message: Message) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


# -- create --------------------------------------------------------------------------------------


def test_a_message_is_answered(demo: anthropic.Anthropic) -> None:
    message = demo.messages.create(
        model=DEMO,
        extra_body=GREEDY,
        max_tokens=64,
        messages=[{"role": "user", "content": CAPITAL}],
    )
    check_message(message)
    assert message.model == DEMO
    assert message.stop_reason == "end_turn"
    assert message.stop_sequence is None
    assert "Paris" in text_of(message)
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0


def test_content_blocks_and_the_system_prompt_reach_the_prompt(tiny: anthropic.Anthropic) -> None:
    plain = tiny.messages.create(
        model=TINY, max_tokens=2, messages=[{"role": "user", "content": "hi"}]
    )
    blocks = tiny.messages.create(
        model=TINY,
        max_tokens=2,
        messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    )
    systemed = tiny.messages.create(
        model=TINY,
        max_tokens=2,
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "hi"}],
    )

    def prompt_tokens(message: Message) -> int:
        return message.usage.input_tokens + (message.usage.cache_read_input_tokens or 0)

    assert prompt_tokens(blocks) == prompt_tokens(plain)
    assert prompt_tokens(systemed) > prompt_tokens(plain)
    # the same prompt again: the prefix cache's share is read from the cache
    again = tiny.messages.create(
        model=TINY, max_tokens=2, messages=[{"role": "user", "content": "hi"}]
    )
    assert (again.usage.cache_read_input_tokens or 0) > 0
    assert prompt_tokens(again) == prompt_tokens(plain)


def test_max_tokens_ends_with_stop_reason_max_tokens(tiny: anthropic.Anthropic) -> None:
    # Greedy: sampled at the default temperature, the random model can end its turn early.
    message = tiny.messages.create(
        model=TINY,
        max_tokens=3,
        messages=[{"role": "user", "content": "Once upon a"}],
        extra_body=GREEDY,
    )
    check_message(message)
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 3


def test_a_stop_sequence_ends_the_answer(demo: anthropic.Anthropic) -> None:
    message = demo.messages.create(
        model=DEMO,
        extra_body=GREEDY,
        max_tokens=64,
        stop_sequences=["Paris"],
        messages=[{"role": "user", "content": CAPITAL}],
    )
    check_message(message)
    assert message.stop_reason == "stop_sequence"
    assert message.stop_sequence == "Paris"
    assert "Paris" not in text_of(message)


def test_the_beta_client_posts_with_beta_true(tiny: anthropic.Anthropic) -> None:
    message = tiny.beta.messages.create(
        model=TINY,
        max_tokens=2,
        messages=[{"role": "user", "content": "hi"}],
        betas=["context-management-2025-06-27"],
    )
    assert message.id.startswith("msg_")
    assert message.stop_reason == "max_tokens"


async def test_the_async_client(tiny_server: ServerProcess) -> None:
    async with anthropic.AsyncAnthropic(
        base_url=tiny_server.url, api_key="x", max_retries=0
    ) as client:
        message = await client.messages.create(
            model=TINY, max_tokens=2, messages=[{"role": "user", "content": "hi"}]
        )
        check_message(message)
        async with client.messages.stream(
            model=TINY, max_tokens=3, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            texts = [text async for text in stream.text_stream]
            final = await stream.get_final_message()
    assert "".join(texts) == text_of(final)
    assert final.usage.output_tokens == 3


# -- streaming -----------------------------------------------------------------------------------


def test_a_stream_has_the_whole_event_sequence(demo: anthropic.Anthropic) -> None:
    events = list(
        demo.messages.create(
            model=DEMO,
            extra_body=GREEDY,
            max_tokens=64,
            messages=[{"role": "user", "content": CAPITAL}],
            stream=True,
        )
    )
    kinds = [event.type for event in events]
    deltas = kinds.count("content_block_delta")
    assert deltas >= 1
    assert kinds == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * deltas,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = events[0]
    assert start.type == "message_start"
    assert start.message.content == []
    assert start.message.stop_reason is None
    assert start.message.usage.input_tokens > 0
    text = "".join(
        e.delta.text
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "text_delta"
    )
    assert "Paris" in text
    end = events[-2]
    assert end.type == "message_delta"
    assert end.delta.stop_reason == "end_turn"
    assert end.usage.output_tokens > 0


def test_the_stream_helper_gives_the_final_message(demo: anthropic.Anthropic) -> None:
    with demo.messages.stream(
        model=DEMO,
        extra_body=GREEDY,
        max_tokens=64,
        messages=[{"role": "user", "content": CAPITAL}],
    ) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    check_message(final)
    assert "".join(texts) == text_of(final)
    whole = demo.messages.create(
        model=DEMO,
        extra_body=GREEDY,
        max_tokens=64,
        messages=[{"role": "user", "content": CAPITAL}],
    )
    assert text_of(whole) == text_of(final)
    assert final.stop_reason == "end_turn"


def test_a_streamed_stop_sequence_is_reported(demo: anthropic.Anthropic) -> None:
    with demo.messages.stream(
        model=DEMO,
        extra_body=GREEDY,
        max_tokens=64,
        stop_sequences=["Paris"],
        messages=[{"role": "user", "content": CAPITAL}],
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "stop_sequence"
    assert final.stop_sequence == "Paris"


# -- tools ---------------------------------------------------------------------------------------


def _tool_use(message: Message) -> Any:
    (call,) = [block for block in message.content if block.type == "tool_use"]
    return call


def test_a_named_tool_choice_gives_its_tool_use_and_a_result_is_answered(
    demo: anthropic.Anthropic,
) -> None:
    tools: Any = [anthropic_tool("get_weather"), anthropic_tool("add")]
    first = demo.messages.create(
        model=DEMO,
        extra_body=GREEDY,
        max_tokens=128,
        tools=tools,
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=[{"role": "user", "content": WEATHER}],
    )
    check_message(first)
    assert first.stop_reason == "tool_use"
    call = _tool_use(first)
    assert call.name == "get_weather"
    assert call.id.startswith("toolu_")
    jsonschema.validate(call.input, TOOLS["get_weather"]["function"]["parameters"])
    result = {"city": "Tokyo", "temperature": 21, "condition": "snowy"}
    answer = demo.messages.create(
        model=DEMO,
        extra_body=GREEDY,
        max_tokens=128,
        tools=tools,
        messages=[
            {"role": "user", "content": WEATHER},
            first.to_param(),
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": call.id, "content": json.dumps(result)}
                ],
            },
        ],
    )
    check_message(answer)
    assert answer.stop_reason == "end_turn"
    assert "snowy" in text_of(answer)


def test_tool_choice_any_forces_a_call(demo: anthropic.Anthropic) -> None:
    message = demo.messages.create(
        model=DEMO,
        extra_body=GREEDY,
        max_tokens=128,
        tools=[anthropic_tool("get_weather")],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
        messages=[{"role": "user", "content": CAPITAL}],
    )
    check_message(message)
    assert message.stop_reason == "tool_use"
    assert _tool_use(message).name == "get_weather"


def test_a_streamed_tool_use_has_its_input_json_delta(demo: anthropic.Anthropic) -> None:
    with demo.messages.stream(
        model=DEMO,
        extra_body=GREEDY,
        max_tokens=128,
        tools=[anthropic_tool("get_weather")],
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": WEATHER}],
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
    partial = "".join(
        e.delta.partial_json
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
    )
    call = _tool_use(final)
    assert json.loads(partial) == call.input
    assert set(call.input) == {"city"}
    assert final.stop_reason == "tool_use"


def test_server_tools_are_left_out_and_custom_tools_kept(demo: anthropic.Anthropic) -> None:
    # what an agent may send beside its own tools: hosted tools this server cannot run
    tools: Any = [
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
        {"type": "bash_20250124", "name": "bash"},
        {"type": "custom", **anthropic_tool("get_weather")},
    ]
    message = demo.messages.create(
        model=DEMO,
        extra_body=GREEDY,
        max_tokens=128,
        tools=tools,
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": WEATHER}],
    )
    assert _tool_use(message).name == "get_weather"


# -- count_tokens --------------------------------------------------------------------------------


def test_count_tokens_counts_the_prompt_a_message_has(tiny: anthropic.Anthropic) -> None:
    tools: Any = [anthropic_tool("get_weather")]
    messages: Any = [{"role": "user", "content": "What's up?"}]
    counted = tiny.messages.count_tokens(
        model=TINY, system="Be brief.", tools=tools, messages=messages
    )
    MessageTokensCount.model_validate(counted.model_dump(), strict=True)
    message = tiny.messages.create(
        model=TINY, max_tokens=1, system="Be brief.", tools=tools, messages=messages
    )
    prompt = message.usage.input_tokens + (message.usage.cache_read_input_tokens or 0)
    assert counted.input_tokens == prompt
    bare = tiny.messages.count_tokens(model=TINY, messages=messages)
    assert bare.input_tokens < counted.input_tokens


# -- errors --------------------------------------------------------------------------------------


def _error(caught: pytest.ExceptionInfo[anthropic.APIStatusError], kind: str) -> str:
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["type"] == "error"
    assert set(body["error"]) == {"type", "message"}
    assert body["error"]["type"] == kind
    message: str = body["error"]["message"]
    return message


def test_a_missing_max_tokens_is_a_bad_request(tiny: anthropic.Anthropic) -> None:
    body = {"model": TINY, "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(anthropic.BadRequestError) as caught:
        tiny.post("/v1/messages", body=body, cast_to=object)
    assert "max_tokens" in _error(caught, "invalid_request_error")


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"temperature": 3}, "temperature"),
        ({"temperature": 1.5}, "temperature"),
        ({"top_k": 0}, "top_k"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]},
            "messages[0].content[0].type",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]},
            "messages[0].content[0].type",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "tool_result"}]}]},
            "messages[0].content[0].tool_use_id",
        ),
        ({"tools": [{"type": "mystery"}]}, "tools[0].type"),
        ({"tools": [{"name": "a b"}]}, "tools[0].name"),
        ({"tool_choice": {"type": "any"}}, "tool_choice"),
        ({"tool_choice": {"type": "sometimes"}}, "tool_choice.type"),
        ({"thinking": {"type": "enabled"}}, "thinking.budget_tokens"),
        ({"output_config": {"effort": "extreme"}}, "output_config.effort"),
        ({"mcp_servers": [{"type": "url", "url": "http://x", "name": "x"}]}, "mcp_servers"),
        ({"stop_sequences": ["a", "b", "c", "d", "e"]}, "stop_sequences"),
        ({"max_tokens": 100000}, "messages"),  # more than the context holds
    ],
)
def test_bad_fields_are_a_400_naming_them(
    tiny: anthropic.Anthropic, fields: dict[str, Any], param: str
) -> None:
    body = {"model": TINY, "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(anthropic.BadRequestError) as caught:
        tiny.post("/v1/messages", body=body | fields, cast_to=object)
    assert param in _error(caught, "invalid_request_error")


def test_a_bad_temperature_through_the_sdk(tiny: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        tiny.messages.create(
            model=TINY,
            max_tokens=2,
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"temperature": 3},
        )
    assert "temperature" in _error(caught, "invalid_request_error")


def test_an_unknown_model_is_not_found(tiny: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        tiny.messages.create(
            model="claude-opus-4-1", max_tokens=2, messages=[{"role": "user", "content": "hi"}]
        )
    assert "claude-opus-4-1" in _error(caught, "not_found_error")
    with pytest.raises(anthropic.NotFoundError):
        tiny.messages.count_tokens(
            model="claude-opus-4-1", messages=[{"role": "user", "content": "hi"}]
        )


def test_what_claude_code_accepts_but_cannot_change_is_accepted(tiny: anthropic.Anthropic) -> None:
    body = {
        "model": TINY,
        "max_tokens": 2,
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hm", "signature": "s"},
                    {"type": "redacted_thinking", "data": "x"},
                    {"type": "text", "text": "Hello."},
                ],
            },
            {"role": "user", "content": "more", "cache_control": {"type": "ephemeral"}},
            {"role": "system", "content": "Extra context."},
        ],
        "thinking": {"type": "adaptive"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "high"},
        "metadata": {"user_id": "u"},
        "service_tier": "auto",
        "mcp_servers": [],
        "container": None,
        "top_k": 40,
        "temperature": 0.5,
        "top_p": 0.9,
    }
    message = tiny.post("/v1/messages", body=body, cast_to=Message)
    check_message(message)


# -- keys and the middlewares' errors ------------------------------------------------------------


@pytest.fixture(scope="module")
def keyed_server(start_server: StartServer, tiny_model_dir: Path) -> ServerProcess:
    return start_server(
        "--model", str(tiny_model_dir), "--served-model-name", TINY, "--api-key", KEY
    )


def test_x_api_key_and_bearer_both_authenticate(keyed_server: ServerProcess) -> None:
    messages: Any = [{"role": "user", "content": "hi"}]
    with anthropic.Anthropic(base_url=keyed_server.url, api_key=KEY, max_retries=0) as client:
        assert client.messages.create(model=TINY, max_tokens=1, messages=messages).content
    with anthropic.Anthropic(base_url=keyed_server.url, auth_token=KEY, max_retries=0) as client:
        assert client.messages.create(model=TINY, max_tokens=1, messages=messages).content
    with anthropic.Anthropic(base_url=keyed_server.url, api_key="wrong", max_retries=0) as client:
        with pytest.raises(anthropic.AuthenticationError) as caught:
            client.messages.create(model=TINY, max_tokens=1, messages=messages)
        assert "x-api-key" in _error(caught, "authentication_error")
        with pytest.raises(anthropic.AuthenticationError):
            client.messages.count_tokens(model=TINY, messages=messages)


async def test_the_middlewares_answer_in_anthropics_shape(
    http: aiohttp.ClientSession, tiny_server: ServerProcess, limited_server: ServerProcess
) -> None:
    body = {"model": TINY, "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}]}
    checks: list[tuple[ServerProcess, str, dict[str, Any], int, str]] = [
        (tiny_server, "/v1/messages", {"data": b"{}"}, 415, "invalid_request_error"),
        (tiny_server, "/v1/messages/other", {"json": body}, 404, "not_found_error"),
        (
            tiny_server,
            "/v1/messages",
            {"json": body, "headers": {"Origin": "http://evil.example"}},
            403,
            "permission_error",
        ),
        (
            limited_server,
            "/v1/messages",
            {"json": body | {"system": "x" * 2000}},
            413,
            "request_too_large",
        ),
        (
            tiny_server,
            "/v1/messages",
            {"data": b"{", "headers": {"Content-Type": "application/json"}},
            400,
            "invalid_request_error",
        ),
    ]
    for server, path, request, status, kind in checks:
        async with http.post(server.url + path, **request) as response:
            assert response.status == status, (path, await response.text())
            got = await response.json()
            assert got["type"] == "error"
            assert got["error"]["type"] == kind
    async with http.get(tiny_server.url + "/v1/messages") as response:  # 405
        assert response.status == 405
        assert (await response.json())["error"]["type"] == "invalid_request_error"
    # the other surfaces keep OpenAI's body
    async with http.post(tiny_server.url + "/v1/chat/completions", data=b"{}") as response:
        assert set((await response.json())["error"]) == {"message", "type", "param", "code"}


# -- the request Claude Code sends ---------------------------------------------------------------


@pytest.fixture(scope="module")
def claude_code_server(
    start_server: StartServer, tmp_path_factory: pytest.TempPathFactory
) -> ServerProcess:
    """A one-layer random model with SmolLM2's tokenizer and template, so that Claude Code's
    prompt stays the ~20k tokens it is (and prefills in seconds), served under any name (it
    asks for its own), with its 32k max_tokens clamped to a short reply."""
    shape = {
        "hidden_size": 32,
        "num_hidden_layers": 1,
        "intermediate_size": 64,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
    }
    folder = smol_tokenizer_llama(tmp_path_factory.mktemp("models") / "smol-tokenizer", shape, 5)
    return start_server("--model", str(folder), "--max-output-tokens", "6", "--model-alias", "*")


def _sse(text: str) -> list[dict[str, Any]]:
    """Each event's data, after checking that its ``event:`` line names its type."""
    events = []
    for frame in text.removesuffix("\n\n").split("\n\n"):
        name, data = frame.split("\n")
        event = json.loads(data.removeprefix("data: "))
        assert name == f"event: {event['type']}"
        events.append(event)
    return events


async def test_the_request_claude_code_sends_gets_a_whole_stream(
    http: aiohttp.ClientSession, claude_code_server: ServerProcess
) -> None:
    body = json.loads((REQUESTS / "claude.json").read_text())
    assert body["model"] == "smollm2-135m-instruct"  # not the served name: the alias takes it
    headers = {
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
        "x-api-key": "unused",
    }
    timeout = aiohttp.ClientTimeout(total=240)
    url = claude_code_server.url + "/v1/messages?beta=true"
    async with http.post(url, json=body, headers=headers, timeout=timeout) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "text/event-stream"
        events = _sse(await response.text())
    for event in events:
        _EVENT.validate_python(event, strict=True)
    kinds = [event["type"] for event in events]
    assert kinds[0] == "message_start"
    assert kinds[-2:] == ["message_delta", "message_stop"]
    blocks = [e["index"] for e in events if e["type"] == "content_block_start"]
    assert blocks == list(range(len(blocks)))
    assert blocks == [e["index"] for e in events if e["type"] == "content_block_stop"]
    assert events[-2]["delta"]["stop_reason"] in ("end_turn", "max_tokens", "tool_use")
    assert events[-2]["usage"]["output_tokens"] <= 6
    # the whole prompt, system blocks, tools and all, was read
    assert events[0]["message"]["usage"]["input_tokens"] > 10000
