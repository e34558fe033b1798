"""Graceful shutdown in-process: refuse new work, let short work finish, end the rest cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mlxfn.effects import run_io
from mlxfn.engine.loader import ModelSpec
from mlxfn.engine.thread import Engine, EngineConfig, start_engine
from mlxfn.server.app import make_app
from mlxfn.server.drain import drain
from mlxfn.server.keys import IN_FLIGHT
from tests.schemas import validate
from tests.server.helpers import chat_body

ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]


@pytest.fixture
def own_engine(tiny_model_dir: Path) -> Iterator[Engine]:
    config = EngineConfig(default_max_tokens=100_000)
    engine = run_io(
        start_engine(ModelSpec(source=str(tiny_model_dir), context_length=200_000), config)
    ).unwrap()
    yield engine
    engine.close()


async def test_draining_refuses_new_work_and_ends_long_streams_with_an_error_event(
    aiohttp_client: ClientFactory, own_engine: Engine
) -> None:
    app = make_app(own_engine)
    client = await aiohttp_client(app)
    # Greedy on this prompt meets no end-of-turn token for thousands of tokens.
    body = chat_body(
        "tell me a story", model=own_engine.loaded.name, max_tokens=100_000, stream=True
    )
    async with client.post("/v1/chat/completions", json=body) as stream:
        assert stream.status == 200
        await stream.content.readuntil(b"\n\n")
        interrupted = asyncio.Event()  # as a second Ctrl-C would: stop waiting at once
        draining = asyncio.create_task(drain(app, timeout=60.0, interrupted=interrupted))
        await asyncio.sleep(0.1)
        refused = await client.post("/v1/chat/completions", json=chat_body("hi"))
        assert refused.status == 503
        validate(await refused.json(), "ErrorResponse")
        health = await client.get("/health")
        assert health.status == 503
        assert (await health.json())["status"] == "draining"
        interrupted.set()
        rest = await stream.content.read()
    assert await draining == 1  # the stream was still running when the wait ended
    last = [frame for frame in rest.split(b"\n\n") if frame][-1]
    error = orjson.loads(last.removeprefix(b"data: "))
    validate(error, "ErrorResponse")
    assert error["error"]["code"] == "service_unavailable"
    assert "shutting down" in error["error"]["message"]


async def test_short_requests_in_flight_finish_normally(
    aiohttp_client: ClientFactory, own_engine: Engine
) -> None:
    app = make_app(own_engine)
    client = await aiohttp_client(app)
    body = chat_body("hello", model=own_engine.loaded.name, max_tokens=20)
    replies = [
        asyncio.create_task(client.post("/v1/chat/completions", json=body)) for _ in range(3)
    ]
    for _ in range(200):  # until all three are in the engine
        if own_engine.pending == 3:
            break
        await asyncio.sleep(0.01)
    assert await drain(app, timeout=30.0, interrupted=asyncio.Event()) == 0
    for reply in replies:
        response = await reply
        assert response.status == 200, await response.text()
        assert (await response.json())["usage"]["completion_tokens"] == 20


async def test_an_embeddings_request_in_flight_is_waited_for(
    aiohttp_client: ClientFactory, own_engine: Engine
) -> None:
    """Its engine tasks are not pending generations; between two of them nothing is queued
    at all, so the drain counts the request itself."""
    app = make_app(own_engine)
    client = await aiohttp_client(app)
    body = {"model": own_engine.loaded.name, "input": ["word " * 100] * 400}
    reply = asyncio.create_task(client.post("/v1/embeddings", json=body))
    for _ in range(500):  # until its first input is pooled
        if app[IN_FLIGHT].count:
            break
        await asyncio.sleep(0.01)
    assert await drain(app, timeout=60.0, interrupted=asyncio.Event()) == 0
    response = await reply
    assert response.status == 200, await response.text()
    assert len((await response.json())["data"]) == 400
