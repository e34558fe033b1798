"""Regression examples for what the fuzzers (``properties/test_app_fuzz.py``, schemathesis) found.

Each test pins one input that once got a 5xx or a malformed answer, as raw bytes on a socket
where the HTTP client would otherwise tidy the request up.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mlxfn.engine.thread import Engine
from mlxfn.server.app import make_app
from tests.server.helpers import ERROR_KEYS, chat_body

ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(aiohttp_client: ClientFactory, engine: Engine) -> Client:
    return await aiohttp_client(make_app(engine))


async def _raw_post(client: Client, path: str, headers: dict[str, str], body: bytes) -> bytes:
    """Send the head, pause so the handler is already reading, then send the body."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    host = f"{client.server.host}:{client.server.port}"
    head = [f"POST {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    head.append(f"Content-Length: {len(body)}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.write(body)
    await writer.drain()
    reply = await asyncio.wait_for(reader.read(), timeout=30)
    writer.close()
    return reply


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_body_not_in_its_content_encoding_is_a_400_not_a_500(
    client: Client, encoding: str
) -> None:
    headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
    reply = await _raw_post(client, "/v1/chat/completions", headers, b"this is not compressed")
    status_line, _, rest = reply.partition(b"\r\n")
    assert status_line.split()[1] == b"400", reply
    body = orjson.loads(rest.partition(b"\r\n\r\n")[2])
    assert set(body["error"]) == ERROR_KEYS
    assert body["error"]["message"].startswith("the request body could not be read")


async def test_a_gzip_body_is_read(client: Client) -> None:
    body = gzip.compress(orjson.dumps(chat_body("hi", max_tokens=2)))
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    response = await client.post("/v1/chat/completions", data=body, headers=headers)
    assert response.status == 200
    assert (await response.json())["usage"]["completion_tokens"] == 2
