"""``/openapi.json``: a valid OpenAPI 3.1 document of exactly the routes the app serves."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate

from mlxfn.engine.thread import Engine
from mlxfn.server.app import make_app
from mlxfn.wire.bodies import ChatBody, CompletionBody, TokenizeBody
from tests.schemas import mlxfn_validator
from tests.server.helpers import chat_body, user

ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)


async def test_every_route_is_documented_and_nothing_else(
    aiohttp_client: ClientFactory, engine: Engine, document: dict[str, Any]
) -> None:
    app = make_app(engine)
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"  # HEAD comes with every GET
    }
    documented = {
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert served == documented
    client = await aiohttp_client(app)
    response = await client.get("/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.json() == document


def test_the_request_schemas_list_the_wire_bodies_fields(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for body in (ChatBody, CompletionBody, TokenizeBody):
        assert set(schemas[body.__name__]["properties"]) == {f.name for f in attrs.fields(body)}
    assert schemas["ChatBody"]["required"] == ["model", "messages"]
    assert schemas["CompletionBody"]["required"] == ["model", "prompt"]
    for path, body_name in (
        ("/v1/chat/completions", "ChatBody"),
        ("/v1/completions", "CompletionBody"),
    ):
        request = document["paths"][path]["post"]["requestBody"]
        assert request["content"]["application/json"]["schema"]["$ref"].endswith(f"/{body_name}")


def _text(prompt: Any = "Once upon a", **fields: Any) -> dict[str, Any]:
    return {"model": "tiny", "prompt": prompt, "temperature": 0, **fields}


@pytest.mark.parametrize(
    ("name", "instance", "valid"),
    [
        ("ChatBody", chat_body("hi", max_tokens=3, stop=["\n"], stream=False), True),
        ("ChatBody", {"model": "tiny", "messages": [{"role": "tool", "content": "x"}]}, False),
        ("ChatBody", chat_body("hi", temperature=2.5), False),
        ("ChatBody", chat_body("hi", max_tokens=0), False),
        ("ChatBody", {"model": "tiny", "messages": []}, False),
        ("ChatBody", chat_body("hi", model="gpt-4o"), False),  # not the served model
        ("ChatBody", chat_body("hi", n=1, tools=[], logprobs=False, functions=None), True),
        ("ChatBody", chat_body("hi", n=2), True),
        ("ChatBody", chat_body("hi", n=129), False),
        ("ChatBody", chat_body("hi", tools=[{"type": "function"}]), False),
        ("ChatBody", chat_body("hi", functions=[]), False),
        ("ChatBody", chat_body("hi", stop=["a", "b", "c", "d", "e"]), False),
        ("ChatBody", chat_body("hi", stream_options={"include_usage": True}), False),
        ("ChatBody", chat_body("hi", stream=True, stream_options={"include_usage": True}), True),
        ("ChatBody", {"model": "tiny", "messages": [{"role": "function", "content": "x"}]}, False),
        ("ChatBody", {"model": "tiny", "messages": [{"role": "assistant"}]}, False),
        (
            "ChatBody",
            {"model": "tiny", "messages": [{"role": "user", "content": [{"type": "text"}]}]},
            False,
        ),
        ("ChatBody", chat_body("hi", response_format={"type": "json_object"}), True),
        (
            "ChatBody",
            chat_body(
                "hi",
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "p", "schema": {"type": "object"}, "strict": True},
                },
            ),
            True,
        ),
        ("ChatBody", chat_body("hi", response_format={"type": "json_schema"}), False),
        ("ChatBody", chat_body("hi", response_format={"type": "xml"}), False),
        (
            "ChatBody",
            chat_body(
                "hi", response_format={"type": "json_schema", "json_schema": {"name": "a b"}}
            ),
            False,
        ),
        ("CompletionBody", _text(max_tokens=3, stop="\n", echo=True, logprobs=5), True),
        ("CompletionBody", _text(["a", "b"], n=2, best_of=2), True),
        ("CompletionBody", _text([1, 2, 3]), True),
        ("CompletionBody", _text([[1, 2], [3]], max_tokens=None, suffix=None), True),
        ("CompletionBody", _text(stream=True, stream_options={"include_usage": True}), True),
        ("CompletionBody", {"model": "tiny"}, False),
        ("CompletionBody", _text(None), False),
        ("CompletionBody", _text(""), False),
        ("CompletionBody", _text([]), False),
        ("CompletionBody", _text([[]]), False),
        ("CompletionBody", _text([1, -2]), False),
        ("CompletionBody", _text(["a", 1]), False),
        ("CompletionBody", _text(logprobs=6), False),
        ("CompletionBody", _text(logprobs=True), False),
        ("CompletionBody", _text(suffix="end"), False),
        ("CompletionBody", _text(max_tokens=0), False),
        ("CompletionBody", _text(model="gpt-3.5-turbo-instruct"), False),
        ("CompletionBody", _text(stream_options={"include_usage": True}), False),
        ("TokenizeBody", {"text": "hi", "messages": user("hi")}, False),
        ("TokenizeBody", {}, False),
        ("TokenizeBody", {"messages": []}, False),
        ("TokenizeBody", {"messages": user("hi")}, True),
        ("TokenizeBody", {"text": "hi", "model": "tiny"}, True),
        ("ErrorResponse", {"error": {"message": "m", "type": "t", "param": None}}, False),
    ],
)
def test_the_schemas_accept_and_reject_what_the_server_does(
    document: dict[str, Any], name: str, instance: dict[str, Any], valid: bool
) -> None:
    assert mlxfn_validator(document, name).is_valid(instance) == valid


async def test_responses_match_their_documented_schemas(
    aiohttp_client: ClientFactory, engine: Engine, document: dict[str, Any]
) -> None:
    client = await aiohttp_client(make_app(engine))
    checks = [
        ("POST", "/v1/chat/completions", chat_body("hi", max_tokens=2), "ChatCompletion"),
        ("POST", "/v1/chat/completions", {"model": "tiny"}, "ErrorResponse"),
        (
            "POST",
            "/v1/completions",
            _text(["a", "b"], n=2, logprobs=2, echo=True),
            "TextCompletion",
        ),
        ("POST", "/v1/completions", _text(suffix="x"), "ErrorResponse"),
        ("GET", "/v1/models", None, "ModelList"),
        ("GET", "/v1/models/tiny", None, "Model"),
        ("POST", "/v1/tokenize", {"text": "hi"}, "TokenCount"),
        ("GET", "/health", None, "Health"),
    ]
    for method, path, body, name in checks:
        response = await client.request(method, path, json=body)
        mlxfn_validator(document, name).validate(await response.json())
    streamed = await client.post(
        "/v1/completions",
        json=_text(["a", "b"], max_tokens=3, stream=True, stream_options={"include_usage": True}),
    )
    frames = (await streamed.read()).decode().removesuffix("\n\n").split("\n\n")
    assert frames[-1] == "data: [DONE]"
    for frame in frames[:-1]:
        mlxfn_validator(document, "TextCompletionEvent").validate(
            {"data": frame.removeprefix("data: ")}
        )
        mlxfn_validator(document, "TextCompletionChunk").validate(
            json.loads(frame.removeprefix("data: "))
        )
