"""Raw HTTP: SSE framing, health, tokenize, request ids and CORS, as bytes on the wire."""

from __future__ import annotations

import re

import aiohttp

from mlxfn import __version__
from tests.server.helpers import (
    MODEL,
    chat_body,
    check_stream_chunks,
    fetch,
    finish_reasons,
    parse_sse,
    stream_content,
    user,
    validate_body,
)

CHAT = "/v1/chat/completions"
PROMPT = "what is two plus two?"


async def test_sse_framing_and_chunks(http: aiohttp.ClientSession, base_url: str) -> None:
    plain = await fetch(http, "POST", f"{base_url}{CHAT}", json=chat_body(PROMPT, max_tokens=12))
    reply = await fetch(
        http, "POST", f"{base_url}{CHAT}", json=chat_body(PROMPT, max_tokens=12, stream=True)
    )
    assert reply.status == 200
    assert reply.headers["Content-Type"].split(";")[0] == "text/event-stream"
    assert reply.headers["Cache-Control"] == "no-cache"
    chunks = parse_sse(reply.body)
    check_stream_chunks(chunks)
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert all(chunk["model"] == MODEL for chunk in chunks)
    assert len({chunk["created"] for chunk in chunks}) == 1
    assert chunks[0]["id"].startswith("chatcmpl-")
    assert finish_reasons(chunks) == ["length"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["choices"][0]["delta"] == {}
    assert all("usage" not in chunk for chunk in chunks)
    assert stream_content(chunks) == plain.json()["choices"][0]["message"]["content"]


async def test_sse_with_usage(http: aiohttp.ClientSession, base_url: str) -> None:
    body = chat_body(PROMPT, max_tokens=5, stream=True, stream_options={"include_usage": True})
    chunks = parse_sse((await fetch(http, "POST", f"{base_url}{CHAT}", json=body)).body)
    check_stream_chunks(chunks)
    *content_chunks, last = chunks
    assert all(chunk["usage"] is None for chunk in content_chunks)
    assert last["choices"] == []
    counted = await fetch(http, "POST", f"{base_url}/v1/tokenize", json={"messages": user(PROMPT)})
    prompt_tokens = counted.json()["count"]
    cached = last["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert 0 <= cached < prompt_tokens  # the prefix cache may hold part of an earlier prompt
    assert last["usage"] == {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": 5,
        "total_tokens": prompt_tokens + 5,
        "prompt_tokens_details": {"cached_tokens": cached},
    }


async def test_non_stream_body(http: aiohttp.ClientSession, base_url: str) -> None:
    reply = await fetch(http, "POST", f"{base_url}{CHAT}", json=chat_body(PROMPT, max_tokens=4))
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    completion = reply.json()
    validate_body(completion, "CreateChatCompletionResponse")
    assert completion["object"] == "chat.completion"
    assert len(completion["choices"]) == 1
    assert completion["choices"][0]["message"]["role"] == "assistant"
    assert completion["usage"]["completion_tokens"] == 4


async def test_unknown_fields_are_ignored(http: aiohttp.ClientSession, base_url: str) -> None:
    body = chat_body(PROMPT, max_tokens=4, frobnicate={"vendor": "extra"})
    plain = await fetch(http, "POST", f"{base_url}{CHAT}", json=chat_body(PROMPT, max_tokens=4))
    reply = await fetch(http, "POST", f"{base_url}{CHAT}", json=body)
    assert reply.status == 200
    assert reply.json()["choices"] == plain.json()["choices"]


async def test_health(http: aiohttp.ClientSession, base_url: str) -> None:
    reply = await fetch(http, "GET", f"{base_url}/health")
    assert reply.status == 200
    assert reply.json() == {"status": "healthy", "model": MODEL, "version": __version__}


async def test_tokenize_text_and_messages(http: aiohttp.ClientSession, base_url: str) -> None:
    text = await fetch(http, "POST", f"{base_url}/v1/tokenize", json={"text": PROMPT})
    assert text.status == 200
    counted = text.json()
    assert counted["count"] == len(counted["tokens"]) > 0
    assert all(isinstance(token, int) for token in counted["tokens"])
    assert counted["max_model_len"] == 512

    messages = await fetch(
        http, "POST", f"{base_url}/v1/tokenize", json={"model": MODEL, "messages": user(PROMPT)}
    )
    chat = messages.json()
    assert chat["count"] == len(chat["tokens"])
    assert chat["count"] > counted["count"], "the chat template adds tokens around the text"

    completion = await fetch(
        http, "POST", f"{base_url}{CHAT}", json=chat_body(PROMPT, max_tokens=1)
    )
    assert completion.json()["usage"]["prompt_tokens"] == chat["count"]


async def test_tokenize_counts_a_whole_conversation(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    conversation = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "hello world"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "what is "}, {"type": "text", "text": "42"}],
        },
    ]
    counted = await fetch(http, "POST", f"{base_url}/v1/tokenize", json={"messages": conversation})
    body = {"model": MODEL, "messages": conversation, "max_tokens": 1, "temperature": 0}
    completion = await fetch(http, "POST", f"{base_url}{CHAT}", json=body)
    assert completion.status == 200
    assert completion.json()["usage"]["prompt_tokens"] == counted.json()["count"]


async def test_request_id_is_echoed(http: aiohttp.ClientSession, base_url: str) -> None:
    given = {"X-Request-ID": "client-id.42:abc"}
    plain = await fetch(
        http, "POST", f"{base_url}{CHAT}", json=chat_body(PROMPT, max_tokens=1), headers=given
    )
    assert plain.headers["X-Request-ID"] == "client-id.42:abc"
    streamed = await fetch(
        http,
        "POST",
        f"{base_url}{CHAT}",
        json=chat_body(PROMPT, max_tokens=1, stream=True),
        headers={"X-Request-ID": "stream-id-7"},
    )
    assert streamed.headers["X-Request-ID"] == "stream-id-7"
    failed = await fetch(http, "GET", f"{base_url}/nope", headers={"X-Request-ID": "err-1"})
    assert failed.status == 404
    assert failed.headers["X-Request-ID"] == "err-1"


async def test_request_id_is_generated_when_absent_or_unusable(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    first = await fetch(http, "GET", f"{base_url}/health")
    second = await fetch(http, "GET", f"{base_url}/health")
    ids = {first.headers["X-Request-ID"], second.headers["X-Request-ID"]}
    assert len(ids) == 2
    assert all(re.fullmatch(r"[A-Za-z0-9._:\-]{8,128}", i) for i in ids)
    odd = await fetch(http, "GET", f"{base_url}/health", headers={"X-Request-ID": "a b\tc"})
    assert odd.headers["X-Request-ID"] not in ("", "a b\tc")


PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type, authorization",
}


async def test_cors_preflight_allows_the_configured_origin(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    reply = await fetch(
        http, "OPTIONS", f"{base_url}{CHAT}", headers={"Origin": "http://example.test", **PREFLIGHT}
    )
    assert reply.status == 200
    assert reply.headers["Access-Control-Allow-Origin"] == "http://example.test"
    assert "POST" in reply.headers["Access-Control-Allow-Methods"]
    allowed = reply.headers["Access-Control-Allow-Headers"].lower()
    assert "content-type" in allowed
    assert "authorization" in allowed


async def test_cors_preflight_refuses_other_origins(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    reply = await fetch(
        http, "OPTIONS", f"{base_url}{CHAT}", headers={"Origin": "http://evil.test", **PREFLIGHT}
    )
    assert "Access-Control-Allow-Origin" not in reply.headers
    assert reply.status != 500


async def test_cors_headers_on_answers_and_errors(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    origin = {"Origin": "http://example.test"}
    ok = await fetch(
        http, "POST", f"{base_url}{CHAT}", json=chat_body(PROMPT, max_tokens=1), headers=origin
    )
    assert ok.headers["Access-Control-Allow-Origin"] == "http://example.test"
    assert "X-Request-ID" in ok.headers["Access-Control-Expose-Headers"]
    streamed = await fetch(
        http,
        "POST",
        f"{base_url}{CHAT}",
        json=chat_body(PROMPT, max_tokens=1, stream=True),
        headers=origin,
    )
    assert streamed.headers["Access-Control-Allow-Origin"] == "http://example.test"
    bad = await fetch(http, "POST", f"{base_url}{CHAT}", body=b"{", headers=origin)
    assert bad.status == 400
    assert bad.headers["Access-Control-Allow-Origin"] == "http://example.test"
    other = await fetch(
        http,
        "POST",
        f"{base_url}{CHAT}",
        json=chat_body(PROMPT, max_tokens=1),
        headers={"Origin": "http://evil.test"},
    )
    assert "Access-Control-Allow-Origin" not in other.headers
