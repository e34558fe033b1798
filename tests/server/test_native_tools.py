"""Tools on a random-weight model whose template HAS a tool-call format of its own, on all three
surfaces (chat completions, the Responses API, Anthropic's Messages API) through the official
openai and anthropic SDKs.

The model is the tiny one built with ``native_tools``: a Qwen2.5-style template that renders
the tools into the system turn and writes calls as ``<tool_call>`` JSON, which mlx-lm reads
with its ``json_tools`` parser, its markers one token each. So the prompt is the template's own
(not mlxfn's generic tools section), a forced call is the grammar of that markup over those
single tokens, and ``tool_choice: none`` can ban the call marker. Its weights are random, so it
calls nothing of its own accord: a forced call always comes, and is valid because the grammar
allows nothing else. The schemas bound every value and close their objects, so a random model
cannot write a string or an object to the token limit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import jsonschema
import openai
import pytest
from anthropic.types import Message
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from mlxfn.domain.tools import FunctionTool
from mlxfn.pipeline.generic_tools import tools_section
from tests.conftest import ServerProcess, StartServer
from tests.schemas import validate, validate_openapi
from tests.server.test_tools import read_stream
from tests.server.tool_helpers import (
    HISTORY,
    NAMED_ADD,
    QUESTION,
    SCHEMAS,
    TOOLS,
    valid_calls,
)

MODEL = "tiny-native"


@pytest.fixture(scope="module")
def native_server(start_server: StartServer, native_tools_model_dir: Path) -> ServerProcess:
    return start_server("--model", str(native_tools_model_dir), "--served-model-name", MODEL)


@pytest.fixture(scope="module")
def client(native_server: ServerProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{native_server.url}/v1", api_key="x", max_retries=0) as c:
        yield c


@pytest.fixture(scope="module")
def claude(native_server: ServerProcess) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=native_server.url, api_key="x", max_retries=0) as c:
        yield c


@pytest.fixture(scope="module")
def template(native_tools_model_dir: Path) -> PreTrainedTokenizerBase:
    """The model's own tokenizer and template, through transformers rather than mlxfn."""
    tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(str(native_tools_model_dir))
    return tokenizer


def native_count(
    template: PreTrainedTokenizerBase,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
) -> int:
    """How many tokens the template's own rendering of the conversation has."""
    text = template.apply_chat_template(
        messages, tools=tools, add_generation_prompt=True, tokenize=False
    )
    assert isinstance(text, str)
    return len(template.encode(text, add_special_tokens=False))


def generic_count(
    template: PreTrainedTokenizerBase, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
) -> int:
    """How many tokens the prompt would have with mlxfn's generic tools section instead."""
    offered = tuple(
        FunctionTool(
            name=t["function"]["name"],
            description=t["function"]["description"],
            parameters=t["function"]["parameters"],
        )
        for t in tools
    )
    return native_count(
        template, [{"role": "system", "content": tools_section(offered)}, *messages]
    )


def test_the_model_has_a_native_format_with_single_token_markers(
    native_tools_model_dir: Path,
) -> None:
    from mlx_lm.utils import load_tokenizer

    tokenizer = load_tokenizer(native_tools_model_dir)
    assert tokenizer.has_tool_calling
    assert tokenizer.tool_parser.__module__.endswith(".json_tools")
    assert (tokenizer.tool_call_start, tokenizer.tool_call_end) == ("<tool_call>", "</tool_call>")
    assert len(tokenizer.tool_call_start_tokens) == 1
    assert len(tokenizer.tool_call_end_tokens) == 1


# -- chat completions ----------------------------------------------------------------------------


def ask(client: openai.OpenAI, content: str = QUESTION, **fields: Any) -> Any:
    settings: dict[str, Any] = {"temperature": 0, "max_tokens": 160, "tools": TOOLS}
    return client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": content}], **(settings | fields)
    )


@pytest.mark.parametrize(
    ("choice", "names"),
    [("required", {"get_weather", "add"}), (NAMED_ADD, {"add"})],
    ids=["required", "named"],
)
@pytest.mark.parametrize("seed", [None, 1, 2])
def test_a_forced_choice_gives_a_valid_call(
    client: openai.OpenAI, choice: Any, names: set[str], seed: int | None
) -> None:
    fields: dict[str, Any] = {"temperature": 1, "seed": seed} if seed is not None else {}
    reply = ask(client, tool_choice=choice, parallel_tool_calls=False, **fields)
    validate(reply.model_dump(mode="json", exclude_unset=True), "CreateChatCompletionResponse")
    out = reply.choices[0]
    assert out.finish_reason == "tool_calls"
    assert out.message.content is None
    calls = out.message.tool_calls or []
    assert len(calls) == 1
    valid_calls(calls, names)


# Sampled seeds under which the random model chains more than one forced call: with parallel
# calls the grammar allows another after each.
SEEDS = range(4)


def test_parallel_forced_calls_each_match_their_schema_and_stream(client: openai.OpenAI) -> None:
    several = []
    for seed in SEEDS:
        reply = ask(client, tool_choice="required", temperature=1, seed=seed, max_tokens=400)
        out = reply.choices[0]
        calls = out.message.tool_calls or []
        valid_calls(calls, {"get_weather", "add"})
        if out.finish_reason == "tool_calls":
            assert out.message.content is None
            several += [(seed, calls)] if len(calls) > 1 else []
        else:  # an unfinished last call stays text, as one that does not parse does
            assert out.finish_reason == "length"
    assert several
    seed, calls = several[0]
    read = read_stream(
        ask(client, tool_choice="required", temperature=1, seed=seed, max_tokens=400, stream=True)
    )
    assert read.finish == "tool_calls"
    assert [read.names[i] for i in sorted(read.names)] == [c.function.name for c in calls]
    assert [read.arguments[i] for i in sorted(read.arguments)] == [
        c.function.arguments for c in calls
    ]
    assert len(set(read.ids.values())) == len(calls)


@pytest.mark.parametrize(
    ("choice", "names"),
    [("required", {"get_weather", "add"}), (NAMED_ADD, {"add"})],
    ids=["required", "named"],
)
def test_streamed_tool_call_deltas_add_up_to_the_call(
    client: openai.OpenAI, choice: Any, names: set[str]
) -> None:
    fields: dict[str, Any] = {"tool_choice": choice, "parallel_tool_calls": False}
    whole = ask(client, **fields).choices[0].message.tool_calls or []
    read = read_stream(ask(client, stream=True, **fields))
    assert read.finish == "tool_calls"
    assert read.content == ""
    assert "<tool_call>" not in read.content
    assert [read.names[i] for i in sorted(read.names)] == [c.function.name for c in whole]
    assert [read.arguments[i] for i in sorted(read.arguments)] == [
        c.function.arguments for c in whole
    ]
    assert all(i.startswith("call_") for i in read.ids.values())
    for index, name in read.names.items():
        assert name in names
        jsonschema.validate(json.loads(read.arguments[index]), SCHEMAS[name])


def _prompt_tokens(client: openai.OpenAI, **fields: Any) -> int:
    reply = ask(client, max_tokens=1, **fields)
    assert reply.usage is not None
    return int(reply.usage.prompt_tokens)


def test_the_prompt_has_the_templates_own_tools_section(
    client: openai.OpenAI, template: PreTrainedTokenizerBase
) -> None:
    messages = [{"role": "user", "content": QUESTION}]
    native = native_count(template, messages, TOOLS)
    assert native != generic_count(template, messages, TOOLS)
    assert _prompt_tokens(client) == native
    assert _prompt_tokens(client, tools=openai.NOT_GIVEN) == native_count(template, messages)


def test_tool_choice_none_hides_the_tools_and_bans_the_call_marker(
    client: openai.OpenAI, template: PreTrainedTokenizerBase
) -> None:
    messages = [{"role": "user", "content": QUESTION}]
    assert _prompt_tokens(client, tool_choice="none") == native_count(template, messages)
    tokens = client.post("/tokenize", body={"model": MODEL, "text": "<tool_call>"}, cast_to=object)
    (start,) = tokens["tokens"]  # type: ignore[index]
    pushed: dict[str, Any] = {"logit_bias": {str(start): 100}, "max_tokens": 8}
    forced = ask(client, tools=openai.NOT_GIVEN, **pushed)  # no tools at all: the bias wins
    assert (forced.choices[0].message.content or "").startswith("<tool_call>")
    reply = ask(client, tool_choice="none", **pushed)
    assert not reply.choices[0].message.tool_calls
    assert "<tool_call>" not in (reply.choices[0].message.content or "")


def _decoded(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages as a template reads them: each call's arguments as the object they hold."""

    def decoded(call: dict[str, Any]) -> dict[str, Any]:
        function = call["function"]
        return call | {"function": function | {"arguments": json.loads(function["arguments"])}}

    return [
        m | {"tool_calls": [decoded(c) for c in m["tool_calls"]]} if "tool_calls" in m else m
        for m in messages
    ]


@pytest.mark.parametrize("tool_choice", ["auto", "none", "required"])
def test_a_tool_result_round_trips_through_the_template(
    client: openai.OpenAI, template: PreTrainedTokenizerBase, tool_choice: str
) -> None:
    reply = client.chat.completions.create(
        model=MODEL,
        messages=HISTORY,  # type: ignore[arg-type]
        tools=TOOLS,  # type: ignore[arg-type]
        tool_choice=tool_choice,  # type: ignore[arg-type]
        parallel_tool_calls=False,
        temperature=0,
        max_tokens=160 if tool_choice == "required" else 8,
    )
    out = reply.choices[0]
    if tool_choice == "required":
        assert out.finish_reason == "tool_calls"
        valid_calls(out.message.tool_calls or [], {"get_weather", "add"})
    else:
        assert out.finish_reason in ("stop", "length")
    assert reply.usage is not None
    offered = None if tool_choice == "none" else TOOLS
    assert reply.usage.prompt_tokens == native_count(template, _decoded(HISTORY), offered)


# -- the Responses API ---------------------------------------------------------------------------


def function_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """A chat tool in the Responses API's flat shape."""
    return {"type": "function", **tool["function"]}


FLAT_TOOLS: Any = [function_tool(t) for t in TOOLS]


def _function_call(response: Any) -> Any:
    (call,) = [item for item in response.output if item.type == "function_call"]
    return call


@pytest.mark.parametrize("name", ["get_weather", "add"])
def test_a_named_function_comes_back_as_a_function_call_item(
    client: openai.OpenAI, template: PreTrainedTokenizerBase, name: str
) -> None:
    response = client.responses.create(
        model=MODEL,
        input=QUESTION,
        tools=FLAT_TOOLS,
        tool_choice={"type": "function", "name": name},
        parallel_tool_calls=False,
        temperature=0,
        max_output_tokens=160,
    )
    validate_openapi(response.model_dump(mode="json", exclude_unset=True), "Response")
    assert response.status == "completed"
    call = _function_call(response)
    assert call.name == name
    assert call.call_id.startswith("call_")
    jsonschema.validate(json.loads(call.arguments), SCHEMAS[name])
    assert response.usage is not None
    messages = [{"role": "user", "content": QUESTION}]
    assert response.usage.input_tokens == native_count(template, messages, TOOLS)


def test_a_streamed_function_call_has_its_argument_events(client: openai.OpenAI) -> None:
    events: list[Any] = list(
        client.responses.create(
            model=MODEL,
            input=QUESTION,
            tools=FLAT_TOOLS,
            tool_choice="required",
            parallel_tool_calls=False,
            temperature=0,
            max_output_tokens=160,
            stream=True,
        )
    )
    kinds = [event.type for event in events]
    assert kinds[0] == "response.created"
    assert kinds[-5:] == [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    arguments = "".join(
        e.delta for e in events if e.type == "response.function_call_arguments.delta"
    )
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert done.arguments == arguments
    call = _function_call(events[-1].response)
    assert call.arguments == arguments
    jsonschema.validate(json.loads(arguments), SCHEMAS[call.name])


def test_the_stream_helper_gives_the_function_call(client: openai.OpenAI) -> None:
    with client.responses.stream(
        model=MODEL,
        input=QUESTION,
        tools=FLAT_TOOLS,
        tool_choice={"type": "function", "name": "add"},
        parallel_tool_calls=False,
        temperature=0,
        max_output_tokens=160,
    ) as stream:
        deltas = [e.delta for e in stream if e.type == "response.function_call_arguments.delta"]
        final = stream.get_final_response()
    call = _function_call(final)
    assert call.name == "add"
    assert "".join(deltas) == call.arguments
    jsonschema.validate(json.loads(call.arguments), SCHEMAS["add"])


def test_parallel_function_calls_are_items_each_with_its_events(client: openai.OpenAI) -> None:
    def create(seed: int, stream: bool = False) -> Any:
        return client.responses.create(
            model=MODEL,
            input=QUESTION,
            tools=FLAT_TOOLS,
            tool_choice="required",
            temperature=1,
            max_output_tokens=400,
            extra_body={"seed": seed},
            stream=stream,
        )

    def calls(output: Any) -> list[tuple[str, str]]:
        return [(item.name, item.arguments) for item in output if item.type == "function_call"]

    seed, whole = next((s, c) for s in SEEDS if len(c := calls(create(s).output)) > 1)
    for name, arguments in whole:
        jsonschema.validate(json.loads(arguments), SCHEMAS[name])
    events = list(create(seed, stream=True))
    assert events[-1].type == "response.completed"
    assert calls(events[-1].response.output) == whole
    done = [e.arguments for e in events if e.type == "response.function_call_arguments.done"]
    assert done == [arguments for _, arguments in whole]
    indexes = [e.output_index for e in events if e.type == "response.function_call_arguments.delta"]
    assert len(set(indexes)) == len(whole)


def test_a_function_call_output_is_accepted(
    client: openai.OpenAI, template: PreTrainedTokenizerBase
) -> None:
    first = client.responses.create(
        model=MODEL,
        input=QUESTION,
        tools=FLAT_TOOLS,
        tool_choice={"type": "function", "name": "get_weather"},
        parallel_tool_calls=False,
        temperature=0,
        max_output_tokens=160,
    )
    call = _function_call(first)
    result = json.dumps({"temperature": 3, "condition": "snowy"})
    sent_back: Any = [
        {"role": "user", "content": QUESTION},
        {
            "type": "function_call",
            "call_id": call.call_id,
            "name": call.name,
            "arguments": call.arguments,
        },
        {"type": "function_call_output", "call_id": call.call_id, "output": result},
    ]
    answer = client.responses.create(
        model=MODEL, input=sent_back, tools=FLAT_TOOLS, temperature=0, max_output_tokens=8
    )
    validate_openapi(answer.model_dump(mode="json", exclude_unset=True), "Response")
    assert answer.status in ("completed", "incomplete")
    chat: list[dict[str, Any]] = [
        {"role": "user", "content": QUESTION},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.call_id, "content": result},
    ]
    assert answer.usage is not None
    assert answer.usage.input_tokens == native_count(template, _decoded(chat), TOOLS)
    # the same turn through the store: only the output goes back
    stored = client.responses.create(
        model=MODEL,
        input=sent_back[-1:],
        tools=FLAT_TOOLS,
        previous_response_id=first.id,
        temperature=0,
        max_output_tokens=8,
    )
    assert stored.usage is not None
    assert stored.usage.input_tokens == answer.usage.input_tokens
    assert stored.output_text == answer.output_text


# -- Anthropic's Messages API --------------------------------------------------------------------


def anthropic_tool(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool["function"]
    return {
        "name": function["name"],
        "description": function["description"],
        "input_schema": function["parameters"],
    }


ANTHROPIC_TOOLS: Any = [anthropic_tool(t) for t in TOOLS]
# This SDK's create has no temperature argument; the server reads it from the body.
GREEDY: dict[str, Any] = {"temperature": 0}


def _tool_use(message: Message) -> Any:
    (call,) = [block for block in message.content if block.type == "tool_use"]
    return call


def _check(message: Message) -> Message:
    return Message.model_validate(message.model_dump(mode="json", exclude_unset=True), strict=True)


@pytest.mark.parametrize(
    ("choice", "names"),
    [
        ({"type": "tool", "name": "get_weather"}, {"get_weather"}),
        ({"type": "tool", "name": "add", "disable_parallel_tool_use": True}, {"add"}),
        ({"type": "any"}, {"get_weather", "add"}),
        ({"type": "any", "disable_parallel_tool_use": True}, {"get_weather", "add"}),
    ],
    ids=["tool", "tool-one", "any", "any-one"],
)
def test_a_forced_tool_choice_gives_a_tool_use(
    claude: anthropic.Anthropic, choice: Any, names: set[str]
) -> None:
    message = claude.messages.create(
        model=MODEL,
        extra_body=GREEDY,
        max_tokens=160,
        tools=ANTHROPIC_TOOLS,
        tool_choice=choice,
        messages=[{"role": "user", "content": QUESTION}],
    )
    _check(message)
    assert message.stop_reason == "tool_use"
    uses = [block for block in message.content if block.type == "tool_use"]
    assert uses
    for use in uses:
        assert use.id.startswith("toolu_")
        assert use.name in names
        jsonschema.validate(use.input, SCHEMAS[use.name])
    assert not [block for block in message.content if block.type == "text"]


def test_the_prompt_and_count_tokens_have_the_templates_own_tools_section(
    claude: anthropic.Anthropic, template: PreTrainedTokenizerBase
) -> None:
    messages: Any = [{"role": "user", "content": QUESTION}]
    counted = claude.messages.count_tokens(model=MODEL, tools=ANTHROPIC_TOOLS, messages=messages)
    assert counted.input_tokens == native_count(template, messages, TOOLS)
    message = claude.messages.create(
        model=MODEL, max_tokens=1, tools=ANTHROPIC_TOOLS, messages=messages
    )
    prompt = message.usage.input_tokens + (message.usage.cache_read_input_tokens or 0)
    assert prompt == counted.input_tokens


def test_a_streamed_tool_use_has_its_input_json_delta(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model=MODEL,
        extra_body=GREEDY,
        max_tokens=160,
        tools=ANTHROPIC_TOOLS,
        tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        messages=[{"role": "user", "content": QUESTION}],
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
    partial = "".join(
        e.delta.partial_json
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
    )
    assert partial
    call = _tool_use(final)
    assert call.name == "get_weather"
    assert json.loads(partial) == call.input
    jsonschema.validate(call.input, SCHEMAS["get_weather"])
    assert final.stop_reason == "tool_use"


def test_parallel_tool_uses_stream_each_in_its_own_block(claude: anthropic.Anthropic) -> None:
    def create(seed: int) -> Message:
        return claude.messages.create(
            model=MODEL,
            extra_body={"temperature": 1, "seed": seed},
            max_tokens=400,
            tools=ANTHROPIC_TOOLS,
            tool_choice={"type": "any"},
            messages=[{"role": "user", "content": QUESTION}],
        )

    seed, whole = next((s, m) for s in SEEDS if len((m := create(s)).content) > 1)
    assert whole.stop_reason == "tool_use"
    uses = [(block.name, block.input) for block in whole.content if block.type == "tool_use"]
    assert len(uses) == len(whole.content)
    for name, given in uses:
        jsonschema.validate(given, SCHEMAS[name])
    with claude.messages.stream(
        model=MODEL,
        extra_body={"temperature": 1, "seed": seed},
        max_tokens=400,
        tools=ANTHROPIC_TOOLS,
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": QUESTION}],
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
    assert [(b.name, b.input) for b in final.content if b.type == "tool_use"] == uses
    partial: dict[int, str] = {}
    for e in events:
        if e.type == "content_block_delta" and e.delta.type == "input_json_delta":
            partial[e.index] = partial.get(e.index, "") + e.delta.partial_json
    assert [json.loads(partial[i]) for i in sorted(partial)] == [given for _, given in uses]


def test_a_tool_result_block_round_trips_through_the_template(
    claude: anthropic.Anthropic, template: PreTrainedTokenizerBase
) -> None:
    first = claude.messages.create(
        model=MODEL,
        extra_body=GREEDY,
        max_tokens=160,
        tools=ANTHROPIC_TOOLS,
        tool_choice={"type": "tool", "name": "add", "disable_parallel_tool_use": True},
        messages=[{"role": "user", "content": QUESTION}],
    )
    call = _tool_use(first)
    result = json.dumps({"sum": call.input["a"] + call.input["b"]})
    conversation: Any = [
        {"role": "user", "content": QUESTION},
        first.to_param(),
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": result}],
        },
    ]
    answer = claude.messages.create(
        model=MODEL,
        extra_body=GREEDY,
        max_tokens=8,
        tools=ANTHROPIC_TOOLS,
        messages=conversation,
    )
    _check(answer)
    assert answer.stop_reason in ("end_turn", "max_tokens")
    chat: list[dict[str, Any]] = [
        {"role": "user", "content": QUESTION},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.input},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": result},
    ]
    prompt = answer.usage.input_tokens + (answer.usage.cache_read_input_tokens or 0)
    assert prompt == native_count(template, chat, TOOLS)
