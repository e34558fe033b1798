"""``/openapi.json``: a valid OpenAPI 3.1 document of exactly the routes the app serves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from openapi_spec_validator import validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from mlxfn.engine.thread import Engine
from mlxfn.server.app import make_app
from mlxfn.server.openapi import build_openapi
from mlxfn.wire.bodies import ChatBody, TokenizeBody
from tests.server.helpers import chat_body, user

ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]
_URI = "urn:mlxfn-openapi"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_openapi("tiny")  # the shared engine's model


def _validator(document: dict[str, Any], name: str) -> Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(_URI, DRAFT202012.create_resource(document))
    return Draft202012Validator({"$ref": f"{_URI}#/components/schemas/{name}"}, registry=registry)


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
    for body in (ChatBody, TokenizeBody):
        assert set(schemas[body.__name__]["properties"]) == {f.name for f in attrs.fields(body)}
    assert schemas["ChatBody"]["required"] == ["model", "messages"]
    chat_request = document["paths"]["/v1/chat/completions"]["post"]["requestBody"]
    assert chat_request["content"]["application/json"]["schema"]["$ref"].endswith("/ChatBody")


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
    assert _validator(document, name).is_valid(instance) == valid


async def test_responses_match_their_documented_schemas(
    aiohttp_client: ClientFactory, engine: Engine, document: dict[str, Any]
) -> None:
    client = await aiohttp_client(make_app(engine))
    checks = [
        ("POST", "/v1/chat/completions", chat_body("hi", max_tokens=2), "ChatCompletion"),
        ("POST", "/v1/chat/completions", {"model": "tiny"}, "ErrorResponse"),
        ("GET", "/v1/models", None, "ModelList"),
        ("GET", "/v1/models/tiny", None, "Model"),
        ("POST", "/v1/tokenize", {"text": "hi"}, "TokenCount"),
        ("GET", "/health", None, "Health"),
    ]
    for method, path, body, name in checks:
        response = await client.request(method, path, json=body)
        _validator(document, name).validate(await response.json())
