"""Every failure is OpenAI's error body with the right status and ``param``; never a 500."""

from __future__ import annotations

from typing import Any

import aiohttp
import attrs
import orjson
import pytest

from tests.conftest import ServerProcess
from tests.server.conftest import LIMITED_BODY_BYTES, LIMITED_CONTEXT
from tests.server.helpers import MODEL, assert_openai_error, chat_body, fetch, user

CHAT = "/v1/chat/completions"


def _with(**fields: Any) -> bytes:
    return orjson.dumps(chat_body("hi", **{"max_tokens": 3, **fields}))


def _without(field: str) -> bytes:
    body = chat_body("hi", max_tokens=3)
    del body[field]
    return orjson.dumps(body)


@attrs.frozen
class Expected:
    """The status, and the ``param`` and ``code`` the error must name (``...``: not checked)."""

    status: int
    param: Any = ...
    code: Any = ...


BAD_BODIES: list[tuple[str, bytes, Expected]] = [
    ("malformed JSON", b'{"model": "tiny", "messages": [', Expected(400, None, None)),
    ("empty body", b"", Expected(400, None, None)),
    ("not UTF-8", b"\xff\xfe{}", Expected(400, None, None)),
    ("NaN", _with().replace(b'"temperature":0', b'"temperature":NaN'), Expected(400, None, None)),
    (
        "huge number",
        b'{"model":"tiny","messages":[],"temperature":1e400}',
        Expected(400, None, None),
    ),
    ("array body", b"[1, 2]", Expected(400, None, None)),
    ("string body", b'"hello"', Expected(400, None, None)),
    ("null body", b"null", Expected(400, None, None)),
    ("missing model", _without("model"), Expected(400, "model", None)),
    ("missing messages", _without("messages"), Expected(400, "messages", None)),
    ("empty messages", _with(messages=[]), Expected(400, "messages", None)),
    ("messages not a list", _with(messages="hi"), Expected(400, "messages", None)),
    (
        "unknown role",
        _with(messages=[{"role": "robot", "content": "hi"}]),
        Expected(400, "messages[0].role", None),
    ),
    (
        "content a number",
        _with(messages=[{"role": "user", "content": 5}]),
        Expected(400, "messages[0].content", None),
    ),
    (
        "second message bad",
        _with(messages=[*user("hi"), {"role": "assistant", "content": None}]),
        Expected(400, "messages[1].content", None),
    ),
    (
        "image part",
        _with(
            messages=[
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
            ]
        ),
        Expected(400, "messages[0].content[0].type", None),
    ),
    (
        "function role",
        _with(messages=[{"role": "function", "name": "f", "content": "x"}]),
        Expected(400, "messages[0].role", None),
    ),
    ("temperature a string", _with(temperature="hot"), Expected(400, "temperature", None)),
    ("temperature a bool", _with(temperature=True), Expected(400, "temperature", None)),
    ("temperature too high", _with(temperature=3), Expected(400, "temperature", None)),
    ("top_p out of range", _with(top_p=1.5), Expected(400, "top_p", None)),
    ("max_tokens a string", _with(max_tokens="5"), Expected(400, "max_tokens", None)),
    ("max_tokens a float", _with(max_tokens=5.0), Expected(400, "max_tokens", None)),
    ("max_tokens a bool", _with(max_tokens=True), Expected(400, "max_tokens", None)),
    ("max_tokens zero", _with(max_tokens=0), Expected(400, "max_tokens", None)),
    ("seed a float", _with(seed=1.5), Expected(400, "seed", None)),
    ("stream a string", _with(stream="yes"), Expected(400, "stream", None)),
    ("five stops", _with(stop=["a", "b", "c", "d", "e"]), Expected(400, "stop", None)),
    ("empty stop", _with(stop=""), Expected(400, "stop", None)),
    (
        "stream_options without stream",
        _with(stream_options={"include_usage": True}),
        Expected(400, "stream_options", None),
    ),
    ("n over the server cap", _with(n=17), Expected(400, "n", "invalid_value")),
    ("top_logprobs", _with(logprobs=True, top_logprobs=21), Expected(400, "top_logprobs", None)),
    ("unknown model", _with(model="gpt-4"), Expected(404, "model", "model_not_found")),
    (
        "context overflow",
        _with(max_tokens=100_000),
        Expected(400, "messages", "context_length_exceeded"),
    ),
]


@pytest.mark.parametrize(
    ("body", "expected"),
    [case[1:] for case in BAD_BODIES],
    ids=[case[0] for case in BAD_BODIES],
)
async def test_bad_chat_body_is_an_openai_error(
    http: aiohttp.ClientSession, base_url: str, body: bytes, expected: Expected
) -> None:
    reply = await fetch(http, "POST", f"{base_url}{CHAT}", body=body)
    assert_openai_error(reply, expected.status, param=expected.param, code=expected.code)


async def test_bad_stream_request_is_an_error_before_any_event(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    reply = await fetch(http, "POST", f"{base_url}{CHAT}", body=_with(stream=True, temperature=9))
    assert_openai_error(reply, 400, param="temperature")


@pytest.mark.parametrize(
    ("request_line", "expected"),
    [
        ("GET /nope", Expected(404, code="not_found")),
        # a route OpenAI has, not here (/v1/embeddings was one until it was served)
        ("POST /v1/images/generations", Expected(404, code="not_found")),
        ("GET /v1/models/other", Expected(404, "model", "model_not_found")),
        ("GET /v1/models/tiny/extra", Expected(404, "model", "model_not_found")),
        (f"GET {CHAT}", Expected(405, code="method_not_allowed")),
        ("DELETE /v1/models", Expected(405, code="method_not_allowed")),
        ("POST /health", Expected(405, code="method_not_allowed")),
    ],
)
async def test_route_errors_are_openai_errors(
    http: aiohttp.ClientSession, base_url: str, request_line: str, expected: Expected
) -> None:
    method, path = request_line.split()
    reply = await fetch(http, method, f"{base_url}{path}")
    assert_openai_error(reply, expected.status, param=expected.param, code=expected.code)


async def test_method_not_allowed_names_the_allowed_methods(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    reply = await fetch(http, "GET", f"{base_url}{CHAT}")
    assert reply.status == 405
    assert "POST" in reply.headers.get("Allow", "")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"text": "hi", "messages": user("hi")}, Expected(400, "text", None)),
        ({}, Expected(400, "text", None)),
        ({"text": 5}, Expected(400, "text", None)),
        ({"text": "hi", "model": "gpt-4"}, Expected(404, "model", "model_not_found")),
    ],
)
async def test_bad_tokenize_body_is_an_openai_error(
    http: aiohttp.ClientSession, base_url: str, payload: dict[str, Any], expected: Expected
) -> None:
    reply = await fetch(http, "POST", f"{base_url}/v1/tokenize", json=payload)
    assert_openai_error(reply, expected.status, param=expected.param, code=expected.code)


async def test_body_over_the_limit_is_413(
    http: aiohttp.ClientSession, limited_server: ServerProcess
) -> None:
    body = orjson.dumps(chat_body("x" * (2 * LIMITED_BODY_BYTES)))
    reply = await fetch(http, "POST", f"{limited_server.url}{CHAT}", body=body)
    error = assert_openai_error(reply, 413, code="request_too_large")
    assert str(LIMITED_BODY_BYTES) in error["message"]
    # Just under the limit is read normally (and here fails for another reason or succeeds).
    small = await fetch(
        http, "POST", f"{limited_server.url}{CHAT}", json=chat_body("hi", max_tokens=1)
    )
    assert small.status == 200


# A prompt of many short odd words: far more tokens than the limited context, few bytes.
LONG_PROMPT = " ".join(f"q{i % 10}z" for i in range(120))


async def test_context_overflow_names_the_numbers(
    http: aiohttp.ClientSession, limited_server: ServerProcess
) -> None:
    url = limited_server.url
    counted = await fetch(http, "POST", f"{url}/v1/tokenize", json={"messages": user("hi")})
    prompt_tokens = counted.json()["count"]
    assert counted.json()["max_model_len"] == LIMITED_CONTEXT
    wanted = LIMITED_CONTEXT - prompt_tokens + 1
    reply = await fetch(http, "POST", f"{url}{CHAT}", json=chat_body("hi", max_tokens=wanted))
    error = assert_openai_error(reply, 400, param="messages", code="context_length_exceeded")
    assert f"maximum context length is {LIMITED_CONTEXT} tokens" in error["message"]
    assert f"requested {LIMITED_CONTEXT + 1} tokens" in error["message"]
    assert f"{prompt_tokens} in the messages, {wanted} in the completion" in error["message"]
    # One token fewer fits exactly.
    fits = await fetch(http, "POST", f"{url}{CHAT}", json=chat_body("hi", max_tokens=wanted - 1))
    assert fits.status == 200


async def test_prompt_longer_than_the_context_is_rejected_without_max_tokens(
    http: aiohttp.ClientSession, limited_server: ServerProcess
) -> None:
    url = limited_server.url
    counted = await fetch(http, "POST", f"{url}/v1/tokenize", json={"messages": user(LONG_PROMPT)})
    prompt_tokens = counted.json()["count"]
    assert prompt_tokens > LIMITED_CONTEXT
    body = {"model": MODEL, "messages": user(LONG_PROMPT)}
    reply = await fetch(http, "POST", f"{url}{CHAT}", json=body)
    error = assert_openai_error(reply, 400, param="messages", code="context_length_exceeded")
    assert f"{prompt_tokens} in the messages" in error["message"]
    streamed = await fetch(http, "POST", f"{url}{CHAT}", json={**body, "stream": True})
    assert_openai_error(streamed, 400, code="context_length_exceeded")


async def test_default_max_tokens_caps_requests_without_one(
    http: aiohttp.ClientSession, limited_server: ServerProcess
) -> None:
    body = {"model": MODEL, "messages": user("hello world hello world"), "temperature": 0}
    reply = await fetch(http, "POST", f"{limited_server.url}{CHAT}", json=body)
    assert reply.status == 200
    completion = reply.json()
    generated = completion["usage"]["completion_tokens"]
    assert 1 <= generated <= 7
    assert (completion["choices"][0]["finish_reason"] == "length") == (generated == 7)
