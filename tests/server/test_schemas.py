"""Every JSON body mlxfn sends, checked strictly against OpenAI's published schemas."""

from __future__ import annotations

import aiohttp

from tests.schemas import validate
from tests.server.helpers import chat_body, fetch, parse_sse


async def test_completion_matches_schema_exactly(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    reply = await fetch(
        http, "POST", f"{base_url}/v1/chat/completions", json=chat_body("hi", max_tokens=3)
    )
    validate(reply.json(), "CreateChatCompletionResponse")


async def test_stream_chunks_match_schema_exactly(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    body = chat_body("hi", max_tokens=3, stream=True, stream_options={"include_usage": True})
    reply = await fetch(http, "POST", f"{base_url}/v1/chat/completions", json=body)
    for chunk in parse_sse(reply.body):
        validate(chunk, "CreateChatCompletionStreamResponse")


async def test_models_match_schema(http: aiohttp.ClientSession, base_url: str) -> None:
    listed = await fetch(http, "GET", f"{base_url}/v1/models")
    assert listed.status == 200
    validate(listed.json(), "ListModelsResponse")
    one = await fetch(http, "GET", f"{base_url}/v1/models/tiny")
    assert one.status == 200
    validate(one.json(), "Model")
    assert one.json() == listed.json()["data"][0]
