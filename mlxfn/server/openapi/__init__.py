"""The OpenAPI 3.1 document of mlxfn's own API, served at ``/openapi.json``.

Request schemas are derived from the wire bodies (``ChatBody``, ``TokenizeBody``), so a field
added there appears here (``schemas.py``); the ranges that ``wire/requests.py`` checks are laid
over them (``chat_requests.py``, and one module per other API). Response schemas are written
out: they are what ``wire/responses.py`` renders (``chat_responses.py``); ``paths.py`` has the
routes.
"""

from __future__ import annotations

import functools

from mlxfn._version import __version__
from mlxfn.server.openapi import (
    chat_requests,
    chat_responses,
    embeddings,
    messages_api,
    paths,
    responses_api,
)
from mlxfn.server.openapi.schemas import JSON, REF, Schemas
from mlxfn.wire.bodies import ChatBody, CompletionBody, DetokenizeBody, TokenizeBody
from mlxfn.wire.codec import encode_json
from mlxfn.wire.embeddings import EmbeddingsBody
from mlxfn.wire.messages_api_bodies import CountTokensBody, CustomToolBody, MessagesBody
from mlxfn.wire.responses_api_bodies import ResponsesBody


def build_openapi(model: str | None = None) -> JSON:
    """The whole document, as a JSON-ready dict; given the served model's id, the request
    schemas name it as the one model there is.

    >>> document = build_openapi("tiny")
    >>> document["openapi"], sorted(document["paths"])[:2]
    ('3.1.0', ['/', '/detokenize'])
    >>> document["components"]["schemas"]["ChatBody"]["properties"]["model"]["enum"]
    ['tiny']
    """
    ranges = (
        dict(chat_requests.RANGES)
        | responses_api.body_ranges(chat_requests.CHAT_RANGES)
        | messages_api.body_ranges(chat_requests.CHAT_RANGES)
        | embeddings.body_ranges(chat_requests.CHAT_RANGES["model"])
    )
    if model is not None:
        served = {"enum": [model], "description": "the served model's id"}
        ranges[ChatBody] = {**chat_requests.CHAT_RANGES, "model": {"type": "string", **served}}
        ranges[CompletionBody] = {
            **chat_requests.COMPLETION_RANGES,
            "model": {"type": "string", **served},
        }
        ranges[TokenizeBody] = {**chat_requests.RANGES[TokenizeBody], "model": served}
        ranges[DetokenizeBody] = {**chat_requests.RANGES[DetokenizeBody], "model": served}
        ranges[ResponsesBody] = {**ranges[ResponsesBody], "model": {"type": "string", **served}}
        ranges |= embeddings.body_ranges({"type": "string", **served})
        for anthropic in (MessagesBody, CountTokensBody):
            ranges[anthropic] = {**ranges[anthropic], "model": {"type": "string", **served}}
    schemas = Schemas(
        ranges,
        null_only=chat_requests.NULL_ONLY | responses_api.NULL_ONLY,
        rules=chat_requests.RULES | responses_api.RULES | messages_api.RULES,
        rejected=chat_requests.REJECTED,
    )
    chat = schemas.component(ChatBody)["$ref"]
    schemas.components[chat.removeprefix(REF)]["description"] = chat_requests.CHAT_DESCRIPTION
    completion = schemas.component(CompletionBody)["$ref"]
    schemas.components[completion.removeprefix(REF)]["description"] = (
        chat_requests.COMPLETION_DESCRIPTION
    )
    responses = schemas.component(ResponsesBody)["$ref"]
    responses_body = schemas.components[responses.removeprefix(REF)]
    responses_body["description"] = responses_api.DESCRIPTION
    responses_body["examples"] = [responses_api.example_body(model)]
    for item in responses_api.ITEM_BODIES:  # input's items, named in its anyOf
        schemas.component(item)
    messages = schemas.component(MessagesBody)["$ref"]
    messages_body = schemas.components[messages.removeprefix(REF)]
    messages_body["description"] = messages_api.DESCRIPTION
    messages_body["examples"] = [messages_api.example_body(model)]
    schemas.component(CountTokensBody)
    for block in (*messages_api.BLOCK_BODIES, CustomToolBody):  # named in anyOfs
        schemas.component(block)
    tokenize = schemas.component(TokenizeBody)["$ref"]
    schemas.components[tokenize.removeprefix(REF)]["description"] = (
        "send exactly one of text, prompt or messages; messages are counted as the chat "
        "template renders them for generation"
    )
    embedding = schemas.component(EmbeddingsBody)["$ref"]
    schemas.components[embedding.removeprefix(REF)]["description"] = embeddings.DESCRIPTION
    detokenize = schemas.component(DetokenizeBody)["$ref"]
    schemas.components[detokenize.removeprefix(REF)]["description"] = (
        "token ids, each inside the model's vocabulary, back to text"
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mlxfn",
            "version": __version__,
            "description": "An OpenAI-compatible chat completions (and legacy completions) "
            "server on MLX.",
        },
        "paths": paths.paths() | messages_api.paths(paths.ERROR_WHY),
        "components": {
            "schemas": {
                **schemas.components,
                **chat_responses.response_schemas(),
                **responses_api.response_schemas(),
                **messages_api.response_schemas(),
                **embeddings.response_schemas(),
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
        },
    }


@functools.cache
def encode_openapi(model: str) -> bytes:
    """The document a server of ``model`` serves, encoded once."""
    return encode_json(build_openapi(model))
