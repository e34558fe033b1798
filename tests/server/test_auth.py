"""API keys: every /v1 route needs one when keys are configured; /health stays open."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mlxfn.engine.thread import Engine
from mlxfn.server.app import make_app
from mlxfn.server.keys import ServerConfig
from tests.schemas import validate
from tests.server.helpers import chat_body

ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]
KEYS = frozenset({"sk-first", "sk-second"})
V1_ROUTES = [
    ("POST", "/v1/chat/completions"),
    ("GET", "/v1/models"),
    ("GET", "/v1/models/tiny"),
    ("POST", "/v1/tokenize"),
    ("POST", "/tokenize"),
    ("POST", "/detokenize"),
    ("GET", "/v1/no-such-route"),
]


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, engine: Engine
) -> TestClient[web.Request, web.Application]:
    config = ServerConfig(api_keys=KEYS, cors_origins=("https://app.example",))
    return await aiohttp_client(make_app(engine, config))


@pytest.mark.parametrize(("method", "path"), V1_ROUTES)
@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "You didn't provide an API key"),
        ("Bearer sk-wrong", "Incorrect API key provided"),
        ("Bearer sk-firs", "Incorrect API key provided"),
        ("Basic sk-first", "You didn't provide an API key"),
        ("Bearer", "You didn't provide an API key"),
    ],
)
async def test_v1_routes_need_a_key(
    client: TestClient[web.Request, web.Application],
    method: str,
    path: str,
    authorization: str | None,
    message: str,
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await client.request(method, path, headers=headers, json=chat_body("hi"))
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = await response.json()
    validate(body, "ErrorResponse")
    assert body["error"]["code"] == "invalid_api_key"
    assert body["error"]["message"].startswith(message)
    assert "sk-first" not in await response.text()


@pytest.mark.parametrize("key", sorted(KEYS))
async def test_any_configured_key_opens_the_api(
    client: TestClient[web.Request, web.Application], engine: Engine, key: str
) -> None:
    headers = {"Authorization": f"bearer {key}"}  # the scheme is case-insensitive
    models = await client.get("/v1/models", headers=headers)
    assert models.status == 200
    body = chat_body("hi", model=engine.loaded.name, max_tokens=2)
    chat = await client.post("/v1/chat/completions", headers=headers, json=body)
    assert chat.status == 200, await chat.text()


async def test_health_and_cors_preflight_need_no_key(
    client: TestClient[web.Request, web.Application],
) -> None:
    assert (await client.get("/health")).status == 200
    preflight = await client.options(
        "/v1/chat/completions",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status == 200


async def test_without_keys_nothing_is_asked(aiohttp_client: ClientFactory, engine: Engine) -> None:
    client = await aiohttp_client(make_app(engine))
    assert (await client.get("/v1/models")).status == 200
