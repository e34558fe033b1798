"""parse_chat_request: valid bodies become domain requests; every bad input is a 400 naming it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from returns.result import Failure, Success

from mlxfn.domain.errors import InvalidRequest, error_status
from mlxfn.domain.messages import (
    AssistantMessage,
    Conversation,
    DeveloperMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from mlxfn.domain.request import ChatRequest, SamplingParams
from mlxfn.domain.values import MaxTokens, MinP, ModelName, Seed, Stop, Temperature, TopK, TopP
from mlxfn.wire.requests import parse_chat_request
from mlxfn.wire.responses import render_error
from mlxfn.wire.token_requests import parse_tokenize_request

JSON = dict[str, Any]
HI: JSON = {"role": "user", "content": "hi"}


def body(**fields: Any) -> bytes:
    """A valid minimal chat body with ``fields`` added or replaced."""
    return dumps({"model": "m", "messages": [HI], **fields})


def dumps(value: Any) -> bytes:
    """As a client writes JSON; unlike orjson, json also writes integers beyond 64 bits."""
    return json.dumps(value, ensure_ascii=False).encode()


def case_id(value: object) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else str(value)


def parse(**fields: Any) -> ChatRequest:
    return parse_chat_request(body(**fields)).unwrap()


def messages_of(*messages: JSON) -> tuple[object, ...]:
    return parse(messages=list(messages)).conversation.messages


def rejected(raw: bytes) -> InvalidRequest:
    """The InvalidRequest a body is rejected with; fails the test on anything else."""
    match parse_chat_request(raw):
        case Failure(InvalidRequest() as err):
            assert error_status(err) == 400
            return err
        case other:
            pytest.fail(f"expected Failure(InvalidRequest), got {other!r}")


# -- valid bodies ---------------------------------------------------------------------------------


def test_minimal_body_gets_openai_defaults() -> None:
    assert parse_chat_request(body()) == Success(
        ChatRequest(model=ModelName("m"), conversation=Conversation((UserMessage("hi"),)))
    )


def test_every_honoured_field() -> None:
    request = parse(
        temperature=0.5,
        top_p=0.9,
        top_k=40,
        min_p=0.05,
        seed=7,
        max_tokens=64,
        stop=["\n\n", "END"],
        stream=True,
        stream_options={"include_usage": True},
        user="u-1",
    )
    assert request == ChatRequest(
        model=ModelName("m"),
        conversation=Conversation((UserMessage("hi"),)),
        sampling=SamplingParams(
            temperature=Temperature(0.5),
            top_p=TopP(0.9),
            top_k=TopK(40),
            min_p=MinP(0.05),
            seed=Seed(7),
        ),
        max_tokens=MaxTokens(64),
        stop=Stop(("\n\n", "END")),
        stream=True,
        include_usage=True,
        user="u-1",
    )


def test_string_content() -> None:
    assert messages_of({"role": "user", "content": "hello", "name": "ann"}) == (
        UserMessage("hello", "ann"),
    )


def test_array_of_text_parts_becomes_one_string() -> None:
    parts = [{"type": "text", "text": "Hello, "}, {"type": "text", "text": "world"}]
    assert messages_of({"role": "user", "content": parts}) == (UserMessage("Hello, world"),)


def test_empty_parts_array_is_empty_text() -> None:
    assert messages_of({"role": "system", "content": []}, HI)[0] == SystemMessage("")


def test_every_role() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    got = messages_of(
        {"role": "system", "content": "s"},
        {"role": "developer", "content": [{"type": "text", "text": "d"}], "name": "dev"},
        {"role": "user", "content": "u"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "content": "42", "tool_call_id": "call_1"},
        {"role": "assistant", "content": "a", "name": "bot"},
    )
    assert got == (
        SystemMessage("s"),
        DeveloperMessage("d", "dev"),
        UserMessage("u"),
        AssistantMessage(None, (ToolCall("call_1", "f", "{}"),)),
        ToolMessage("42", "call_1"),
        AssistantMessage("a", (), "bot"),
    )


def test_assistant_tool_calls_without_content_key() -> None:
    call = {"id": "c", "function": {"name": "f", "arguments": '{"x": 1}'}}
    assert messages_of({"role": "assistant", "tool_calls": [call]}) == (
        AssistantMessage(None, (ToolCall("c", "f", '{"x": 1}'),)),
    )


def test_assistant_refusal_string_is_its_content() -> None:
    assert messages_of({"role": "assistant", "content": None, "refusal": "no"}) == (
        AssistantMessage("no"),
    )


def test_assistant_refusal_content_part() -> None:
    part = {"type": "refusal", "refusal": "I can't help with that"}
    assert messages_of({"role": "assistant", "content": [part]}) == (
        AssistantMessage("I can't help with that"),
    )


@pytest.mark.parametrize(
    ("stop", "sequences"),
    [("END", ("END",)), (["END"], ("END",)), (["a", "b", "c", "d"], ("a", "b", "c", "d"))],
)
def test_stop_as_string_or_list(stop: str | list[str], sequences: tuple[str, ...]) -> None:
    """A string stop is one sequence, never a tuple of its characters."""
    assert parse(stop=stop).stop == Stop(sequences)


def test_stop_null_is_no_stop() -> None:
    assert parse(stop=None).stop is None


def test_max_completion_tokens_is_preferred_over_max_tokens() -> None:
    assert parse(max_tokens=10, max_completion_tokens=20).max_tokens == MaxTokens(20)
    assert parse(max_tokens=10).max_tokens == MaxTokens(10)
    assert parse(max_completion_tokens=20).max_tokens == MaxTokens(20)


def test_max_completion_tokens_wins_even_when_max_tokens_is_invalid() -> None:
    assert parse(max_tokens=0, max_completion_tokens=5).max_tokens == MaxTokens(5)


@pytest.mark.parametrize(
    ("options", "include_usage"),
    [
        ({"include_usage": True}, True),
        ({"include_usage": False}, False),
        ({}, False),
        (None, False),
    ],
)
def test_stream_options_include_usage(options: JSON | None, include_usage: bool) -> None:
    request = parse(stream=True, stream_options=options)
    assert (request.stream, request.include_usage) == (True, include_usage)


def test_integer_temperature_is_a_float() -> None:
    assert parse(temperature=1).sampling.temperature == Temperature(1.0)


def test_temperature_zero_is_greedy() -> None:
    assert parse(temperature=0).sampling.temperature.is_greedy


def test_n_is_honoured() -> None:
    assert parse(n=3).n.value == 3
    assert parse().n.value == 1


def test_safety_identifier_is_the_user() -> None:
    assert parse(safety_identifier="s").user == "s"
    assert parse(safety_identifier="s", user="u").user == "s"


@pytest.mark.parametrize(
    "harmless",
    [
        {"n": 1},
        {"n": None},
        {"frequency_penalty": 0},
        {"presence_penalty": 0.0},
        {"logit_bias": {}},
        {"logprobs": False},
        {"top_logprobs": 0},
        {"response_format": {"type": "text"}},
        {"tools": []},
        {"tool_choice": "none"},
        {"tool_choice": "auto"},
        {"modalities": ["text"]},
        {"store": False},
        {"service_tier": "auto"},
        {"service_tier": "default"},
        {"parallel_tool_calls": True},
        {"metadata": {"k": "v"}},
        {"prompt_cache_key": "k"},
    ],
    ids=",".join,
)
def test_defined_fields_at_harmless_values_are_accepted(harmless: JSON) -> None:
    assert parse_chat_request(body(**harmless)) == parse_chat_request(body())


def test_fields_nobody_defines_are_ignored() -> None:
    raw = dumps(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "hi", "x_vendor": [1, 2]}],
            "typical_p": 0.9,
            "chat_template_kwargs": {"enable_thinking": False},
            "": None,
        }
    )
    assert parse_chat_request(raw) == parse_chat_request(body())


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"{", b"{'model': 'm'}", b"\xff\xfe", b"NaN", b"[1,]"])
def test_malformed_json(raw: bytes) -> None:
    err = rejected(raw)
    assert err.param is None
    assert err.message.startswith("body is not valid JSON")


def test_non_finite_numbers_are_malformed_json() -> None:
    for raw in (b'{"temperature": NaN}', b'{"temperature": Infinity}', b'{"temperature": 1e400}'):
        assert rejected(raw).message.startswith("body is not valid JSON")


@pytest.mark.parametrize("raw", [b"[]", b'[{"model": "m"}]', b'"hi"', b"1", b"null", b"true"])
def test_non_object_body(raw: bytes) -> None:
    assert rejected(raw) == InvalidRequest("body must be a JSON object")


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (dumps({"messages": [HI]}), "model"),
        (dumps({"model": "m"}), "messages"),
        (dumps({}), "model"),
        (body(messages=[]), "messages"),
        (body(messages=[{"role": "user"}]), "messages[0].content"),
        (body(messages=[{"content": "x"}]), "messages[0].role"),
        (body(messages=[{"role": "tool", "content": "x"}]), "messages[0].tool_call_id"),
        (
            body(messages=[{"role": "assistant", "tool_calls": [{"id": "c", "function": {}}]}]),
            "messages[0].tool_calls[0].function.name",
        ),
        (body(response_format={}), "response_format.type"),
    ],
)
def test_missing_field(raw: bytes, param: str) -> None:
    assert rejected(raw).param == param


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": 1}, "model"),
        ({"model": None}, "model"),
        ({"messages": "hi"}, "messages"),
        ({"messages": {"role": "user"}}, "messages"),
        ({"messages": [HI, "hi"]}, "messages[1]"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
            "messages[0].content[0].text",
        ),
        ({"messages": [{"role": "user", "content": ["hi"]}]}, "messages[0].content[0]"),
        ({"messages": [{"role": "user", "content": "x", "name": 3}]}, "messages[0].name"),
        ({"messages": [{"role": 1, "content": "x"}]}, "messages[0].role"),
        ({"temperature": "0.5"}, "temperature"),
        ({"temperature": True}, "temperature"),
        ({"top_p": [1]}, "top_p"),
        ({"stream": "yes"}, "stream"),
        ({"stream": 1}, "stream"),
        ({"stop": [1]}, "stop[0]"),
        ({"stop": ["ok", None]}, "stop[1]"),
        ({"stop": 5}, "stop"),
        ({"max_tokens": 1.5}, "max_tokens"),
        ({"max_tokens": "10"}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"seed": 1.0}, "seed"),
        ({"seed": -(2**63) - 1}, "seed"),  # orjson reads integers past 64 bits as floats
        ({"max_tokens": 2**64}, "max_tokens"),
        ({"n": "2"}, "n"),
        ({"stream_options": True, "stream": True}, "stream_options"),
        (
            {"stream_options": {"include_usage": "yes"}, "stream": True},
            "stream_options.include_usage",
        ),
        ({"user": 5}, "user"),
        ({"tools": {}}, "tools"),
        ({"response_format": "json"}, "response_format"),
    ],
    ids=case_id,
)
def test_wrong_type(fields: JSON, param: str) -> None:
    """A wrong element type names the element (stop[0], not stop), and nothing is coerced."""
    err = rejected(body(**fields))
    assert err.param == param
    assert err.message.startswith(f"'{param}': ")


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"temperature": -0.01}, "temperature"),
        ({"temperature": 2.01}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"n": 0}, "n"),
        ({"n": 129}, "n"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_k": 0}, "top_k"),
        ({"min_p": -0.5}, "min_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": -1}, "max_tokens"),
        ({"max_completion_tokens": 0}, "max_completion_tokens"),
        ({"max_completion_tokens": 0, "max_tokens": 10}, "max_completion_tokens"),
        ({"seed": 2**63}, "seed"),
        ({"max_tokens": 2**63}, "max_tokens"),
        ({"stop": []}, "stop"),
        ({"stop": ""}, "stop"),
        ({"stop": ["a", ""]}, "stop"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"model": ""}, "model"),
        ({"model": "   "}, "model"),
    ],
    ids=case_id,
)
def test_out_of_range(fields: JSON, param: str) -> None:
    err = rejected(body(**fields))
    assert err.param == param
    assert err.message.startswith(param)


def test_first_bad_field_in_field_order_is_named() -> None:
    assert rejected(body(temperature=5, top_p=5)).param == "temperature"


@pytest.mark.parametrize("role", ["robot", "", "USER", None])
def test_unknown_role(role: str | None) -> None:
    err = rejected(body(messages=[HI, {"role": role, "content": "x"}]))
    assert err.param == "messages[1].role"
    assert repr(role) in err.message


def test_function_role_is_rejected_by_name() -> None:
    err = rejected(body(messages=[HI, {"role": "function", "name": "f", "content": "x"}]))
    assert err.param == "messages[1].role"
    assert "deprecated" in err.message


@pytest.mark.parametrize(
    "part",
    [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "input_audio", "input_audio": {"data": "", "format": "wav"}},
        {"type": "file", "file": {"file_id": "f"}},
    ],
    ids=lambda p: p["type"],
)
def test_non_text_content_part(part: JSON) -> None:
    err = rejected(body(messages=[{"role": "user", "content": [part]}]))
    assert err.param == "messages[0].content[0].type"


@pytest.mark.parametrize("kind", ["text", "refusal"])
def test_a_text_part_without_its_text_names_the_missing_field(kind: str) -> None:
    # Found by schemathesis: this used to say that type 'text' is not supported.
    for part in ({"type": kind}, {"type": kind, kind: None}):
        err = rejected(body(messages=[{"role": "assistant", "content": [part]}]))
        assert err.param == f"messages[0].content[0].{kind}"
        assert err.message == f"a {kind} part needs its {kind}"


def test_non_text_part_after_text_names_its_index() -> None:
    parts = [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "x"}}]
    err = rejected(body(messages=[HI, {"role": "user", "content": parts}]))
    assert err.param == "messages[1].content[1].type"


def test_assistant_without_content_or_tool_calls() -> None:
    message: JSON
    for message in (
        {"role": "assistant"},
        {"role": "assistant", "content": None, "tool_calls": []},
    ):
        assert rejected(body(messages=[HI, message])).param == "messages[1].content"


@pytest.mark.parametrize("field", ["audio", "function_call"])
def test_assistant_audio_and_function_call(field: str) -> None:
    message = {"role": "assistant", "content": "x", field: {"id": "a"}}
    assert rejected(body(messages=[message])).param == f"messages[0].{field}"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"frequency_penalty": 2.5}, "frequency_penalty"),
        ({"presence_penalty": -3}, "presence_penalty"),
        ({"repetition_penalty": 0}, "repetition_penalty"),
        ({"logit_bias": {"50256": -101}}, "logit_bias"),
        ({"logit_bias": {"-1": 5}}, "logit_bias"),
        ({"logit_bias": {"hello": 5}}, "logit_bias"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
    ],
    ids=case_id,
)
def test_invalid_sampling_field(fields: JSON, param: str) -> None:
    assert rejected(body(**fields)).param == param


def test_sampling_fields_are_refined() -> None:
    request = parse_chat_request(
        body(
            logit_bias={"7": 100, "3": -100},
            presence_penalty=0.5,
            frequency_penalty=-1,
            repetition_penalty=1.2,
            logprobs=True,
            top_logprobs=5,
        )
    ).unwrap()
    assert request.sampling.logit_bias is not None
    assert request.sampling.logit_bias.entries == ((3, -100.0), (7, 100.0))
    assert request.sampling.presence_penalty is not None
    assert request.sampling.presence_penalty.value == 0.5
    assert request.logprobs is not None
    assert request.logprobs.value == 5
    assert parse_chat_request(body(logprobs=False, top_logprobs=0)).unwrap().logprobs is None


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"function_call": "auto"}, "function_call"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
        ({"prediction": {"type": "content", "content": "x"}}, "prediction"),
        ({"reasoning_effort": "low"}, "reasoning_effort"),
        ({"verbosity": "low"}, "verbosity"),
        ({"web_search_options": {}}, "web_search_options"),
        ({"store": True}, "store"),
        ({"service_tier": "flex"}, "service_tier"),
        (
            {"stream": True, "stream_options": {"include_obfuscation": True}},
            "stream_options.include_obfuscation",
        ),
    ],
    ids=case_id,
)
def test_unsupported_parameter(fields: JSON, param: str) -> None:
    err = rejected(body(**fields))
    assert (err.param, err.code) == (param, "unsupported_parameter")


@pytest.mark.parametrize("stream", [None, False])
def test_stream_options_without_stream(stream: bool | None) -> None:
    fields: JSON = {"stream_options": {"include_usage": True}}
    if stream is not None:
        fields["stream"] = stream
    err = rejected(body(**fields))
    assert err.param == "stream_options"


@pytest.mark.parametrize(
    "raw",
    [b"{", b"[]", body(messages=[]), body(temperature="hot"), body(n=0), body(top_p=0)],
)
def test_every_rejection_renders_the_four_keys(raw: bytes) -> None:
    assert set(render_error(rejected(raw))["error"]) == {"message", "type", "param", "code"}


# -- tokenize -------------------------------------------------------------------------------------


def test_tokenize_text_or_messages() -> None:
    text = parse_tokenize_request(b'{"text": "hello"}').unwrap()
    assert (text.model, text.text) == (None, "hello")
    chat = parse_tokenize_request(dumps({"model": "m", "messages": [HI]})).unwrap()
    assert (chat.model, chat.text) == (ModelName("m"), Conversation((UserMessage("hi"),)))


@pytest.mark.parametrize("raw", [b"{}", dumps({"text": "x", "messages": [HI]}), b'{"text": null}'])
def test_tokenize_needs_exactly_one_of_text_or_messages(raw: bytes) -> None:
    assert parse_tokenize_request(raw) == Failure(
        InvalidRequest("send exactly one of 'text' or 'messages'", param="text")
    )


@pytest.mark.parametrize(
    "choice", ["required", {"type": "function", "function": {"name": "f"}}], ids=str
)
def test_a_forcing_tool_choice_without_tools_is_invalid(choice: object) -> None:
    err = rejected(body(tool_choice=choice))
    assert err.param == "tool_choice"
