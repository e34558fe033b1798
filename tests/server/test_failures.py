"""Failures on our side: the engine stopping mid-stream, a dead engine, an escaped exception.

These run the app in-process (aiohttp's test client) over an engine of their own, so that the
test can stop that engine while a request is in flight.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mlxfn.effects import run_io
from mlxfn.engine.loader import ModelSpec
from mlxfn.engine.thread import Engine, start_engine
from mlxfn.server.app import make_app
from mlxfn.server.middleware import openai_errors, request_ids
from tests.schemas import validate
from tests.server.helpers import chat_body

ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]


@pytest.fixture
def own_engine(tiny_model_dir: Path) -> Iterator[Engine]:
    engine = run_io(start_engine(ModelSpec(source=str(tiny_model_dir)))).unwrap()
    yield engine
    engine.close()


async def test_an_engine_failure_mid_stream_is_an_error_event(
    aiohttp_client: ClientFactory, own_engine: Engine
) -> None:
    client = await aiohttp_client(make_app(own_engine))
    body = chat_body("hello world", max_tokens=400, stream=True)
    async with client.post("/v1/chat/completions", json=body) as response:
        assert response.status == 200
        first = await response.content.readuntil(b"\n\n")
        assert b'"role":"assistant"' in first
        own_engine.close()  # the running generation is failed by the engine
        rest = await response.content.read()
    frames = [frame for frame in rest.split(b"\n\n") if frame]
    assert frames[-1].startswith(b'data: {"error"')
    assert b"[DONE]" not in rest
    error = orjson.loads(frames[-1].removeprefix(b"data: "))
    validate(error, "ErrorResponse")
    assert error["error"]["type"] == "server_error"
    assert "engine" not in error["error"]["message"].lower()  # details stay in the log


async def test_a_stopped_engine_is_unhealthy_and_refuses_work(
    aiohttp_client: ClientFactory, own_engine: Engine
) -> None:
    client = await aiohttp_client(make_app(own_engine))
    own_engine.close()
    health = await client.get("/health")
    assert health.status == 503
    assert (await health.json())["status"] == "unhealthy"
    refused = await client.post("/v1/chat/completions", json=chat_body("hi", max_tokens=2))
    assert refused.status == 503
    validate(await refused.json(), "ErrorResponse")


async def test_an_escaped_exception_is_a_generic_500_in_openai_shape(
    aiohttp_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(_: web.Request) -> web.Response:
        raise RuntimeError("secret internal detail")

    app = web.Application(middlewares=[request_ids, openai_errors])
    app.router.add_get("/broken", broken)
    client = await aiohttp_client(app)
    response = await client.get("/broken", headers={"X-Request-ID": "trace-me"})
    assert response.status == 500
    body = await response.json()
    validate(body, "ErrorResponse")
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert "secret" not in body["error"]["message"]
    assert "secret internal detail" in caplog.text  # the details are logged, with the id
    assert "trace-me" in caplog.text
