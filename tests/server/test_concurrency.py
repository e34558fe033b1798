"""Many clients at once, a full queue, and clients that go away mid-generation."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import openai
import pytest

from tests.conftest import ServerProcess
from tests.server.helpers import (
    MODEL,
    assert_openai_error,
    chat_body,
    check_stream_chunks,
    fetch,
    finish_reasons,
    parse_sse,
    stream_content,
)

CHAT = "/v1/chat/completions"
PROMPTS = [
    "the quick brown fox",
    "hello world!",
    "what is two plus two?",
    "tell me a story about a cat",
    "naïve café über 東京 🙂",
    "colours, cities and the weather",
    "0 1 2 3 4 5 6 7 8 9 10 42 100",
    "system user assistant tool function",
]
# Greedy decoding of this prompt on the tiny model (built from a fixed seed) cycles without
# ever reaching EOS: it runs 5000 tokens (about 18 s here), so a generation that kept running
# after its client left would hold the slot far longer than SLOT_FREED_WITHIN_S.
ENDLESS_PROMPT = "hello world"
LONG = 50_000
# How long a freed slot may take to show: generous, but well below a leaked generation.
SLOT_FREED_WITHIN_S = 8.0


async def _content(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> str:
    reply = await fetch(http, "POST", f"{url}{CHAT}", json=body)
    assert reply.status == 200, reply.body
    return str(reply.json()["choices"][0]["message"]["content"])


async def _stream(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> list[Any]:
    reply = await fetch(http, "POST", f"{url}{CHAT}", json={**body, "stream": True})
    assert reply.status == 200, reply.body
    return parse_sse(reply.body)


async def test_concurrent_streams_each_match_their_request_alone(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    bodies = [chat_body(prompt, max_tokens=20) for prompt in PROMPTS]
    alone = [await _content(http, base_url, body) for body in bodies]
    assert len(set(alone)) == len(alone), "prompts should give distinguishable outputs"

    streams = await asyncio.gather(*(_stream(http, base_url, body) for body in bodies))

    for chunks, expected in zip(streams, alone, strict=True):
        check_stream_chunks(chunks)  # one id, role first, exactly one finish chunk
        assert stream_content(chunks) == expected
        assert finish_reasons(chunks) == ["length"]
    assert len({chunks[0]["id"] for chunks in streams}) == len(streams)


async def test_concurrent_mixed_requests(http: aiohttp.ClientSession, base_url: str) -> None:
    """Streams and plain requests, greedy and seeded, interleaved: each as if alone."""
    bodies = [
        chat_body(PROMPTS[0], max_tokens=12),
        chat_body(PROMPTS[1], max_tokens=12, temperature=1.0, seed=7),
        chat_body(PROMPTS[1], max_tokens=12, temperature=1.0, seed=8),
        chat_body(PROMPTS[2], max_tokens=12, temperature=0.8, top_p=0.9, seed=9),
    ]
    alone = [await _content(http, base_url, body) for body in bodies]

    async def run(body: dict[str, Any], streamed: bool) -> str:
        if streamed:
            return stream_content(await _stream(http, base_url, body))
        return await _content(http, base_url, body)

    jobs = [run(body, streamed) for body in bodies for streamed in (False, True)]
    together = await asyncio.gather(*jobs)
    assert together == [text for text in alone for _ in (False, True)]


async def _hold_stream(
    http: aiohttp.ClientSession, url: str, max_tokens: int = LONG
) -> aiohttp.ClientResponse:
    """Open a long stream and read until its first content chunk: it is then generating."""
    body = chat_body(ENDLESS_PROMPT, max_tokens=max_tokens, stream=True)
    response = await http.post(f"{url}{CHAT}", json=body)
    assert response.status == 200
    assert (await response.content.readline()).startswith(b"data: ")  # the role chunk
    while True:
        line = await response.content.readline()
        assert line, "the stream ended before its first content chunk"
        if line.startswith(b'data: {"'):
            break
    return response


async def _wait_until_served(http: aiohttp.ClientSession, url: str) -> float:
    """Retry a small request while the server answers 429; how long until it was served."""
    started = time.monotonic()
    while time.monotonic() - started < SLOT_FREED_WITHIN_S:
        reply = await fetch(http, "POST", f"{url}{CHAT}", json=chat_body("hi", max_tokens=2))
        if reply.status == 200:
            return time.monotonic() - started
        assert_openai_error(reply, 429)
        await asyncio.sleep(0.05)
    pytest.fail(f"the slot was not freed within {SLOT_FREED_WITHIN_S} s")


async def test_queue_full_is_429_with_retry_after(
    http: aiohttp.ClientSession, single_slot_server: ServerProcess
) -> None:
    url = single_slot_server.url
    held = await _hold_stream(http, url)
    try:
        replies = await asyncio.gather(
            *(
                fetch(http, "POST", f"{url}{CHAT}", json=chat_body(p, max_tokens=400, stream=s))
                for p in PROMPTS[:3]
                for s in (False, True)
            )
        )
        for reply in replies:
            error = assert_openai_error(reply, 429, param=None, code="server_overloaded")
            assert error["type"] == "server_overloaded"
            assert int(reply.headers["Retry-After"]) >= 1
        sdk = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        with pytest.raises(openai.RateLimitError) as raised:
            sdk.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=2
            )
        assert raised.value.code == "server_overloaded"
        # Requests that never reach the engine are still answered while it is full.
        health = await fetch(http, "GET", f"{url}/health")
        assert health.status == 200
        bad = await fetch(http, "POST", f"{url}{CHAT}", body=b"{")
        assert_openai_error(bad, 400)
    finally:
        held.close()
    await _wait_until_served(http, url)


async def test_disconnected_streams_free_their_slot(
    http: aiohttp.ClientSession, single_slot_server: ServerProcess
) -> None:
    url = single_slot_server.url
    for _ in range(3):
        held = await _hold_stream(http, url)
        held.close()
        await _wait_until_served(http, url)


async def test_disconnected_plain_request_frees_its_slot(
    http: aiohttp.ClientSession, single_slot_server: ServerProcess
) -> None:
    url = single_slot_server.url
    body = chat_body(ENDLESS_PROMPT, max_tokens=LONG)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(fetch(http, "POST", f"{url}{CHAT}", json=body), timeout=0.5)
    await _wait_until_served(http, url)


async def test_disconnected_streams_do_not_block_later_requests(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    held = [await _hold_stream(http, base_url, max_tokens=480) for _ in range(4)]
    for response in held:
        response.close()
    started = time.monotonic()
    later = await asyncio.gather(
        *(_content(http, base_url, chat_body(p, max_tokens=10)) for p in PROMPTS[:4])
    )
    assert all(later)
    assert time.monotonic() - started < SLOT_FREED_WITHIN_S
    streamed = await _stream(http, base_url, chat_body(PROMPTS[0], max_tokens=10))
    assert stream_content(streamed) == later[0]
