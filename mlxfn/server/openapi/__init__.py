"""The OpenAPI 3.1 document of mlxfn's own API, served at ``/openapi.json``.

Request schemas are derived from the wire bodies (``ChatBody``, ``TokenizeBody``), so a field
added there appears here (``schemas.py``); the ranges that ``wire/requests.py`` checks are laid
over them (``chat_requests.py``, and one module per other API), taken from the refined values'
validators (``domain.values.bounds``) and the live configuration (``facts.py``: the served ids,
the reasoning field, API keys, the engine's caps). Response schemas are written out: they are
what ``wire/responses.py`` renders (``chat_responses.py``); ``paths.py`` has the routes.
"""

from __future__ import annotations

import functools
from typing import Final

from mlxfn._version import __version__
from mlxfn.server.openapi import (
    chat_requests,
    chat_responses,
    embeddings,
    messages_api,
    paths,
    responses_api,
)
from mlxfn.server.openapi.facts import OpenApiFacts
from mlxfn.server.openapi.schemas import JSON, REF, Schemas
from mlxfn.wire.bodies import ChatBody, CompletionBody, DetokenizeBody, TokenizeBody
from mlxfn.wire.codec import encode_json
from mlxfn.wire.embeddings import EmbeddingsBody
from mlxfn.wire.messages_api_bodies import CountTokensBody, CustomToolBody, MessagesBody
from mlxfn.wire.responses_api_bodies import ResponsesBody

NO_FLAGS: Final = OpenApiFacts()  # a server started with no flags: any model id answers


def build_openapi(facts: OpenApiFacts = NO_FLAGS) -> JSON:
    """The whole document of a server with these facts, as a JSON-ready dict (by default,
    one with no flags set that answers any model id).

    >>> document = build_openapi(OpenApiFacts(models=("tiny",)))
    >>> document["openapi"], sorted(document["paths"])[:2]
    ('3.1.0', ['/', '/detokenize'])
    >>> document["components"]["schemas"]["ChatBody"]["properties"]["model"]["enum"]
    ['tiny']
    """
    chat_ranges = chat_requests.chat_ranges(facts)
    ranges = (
        chat_requests.ranges(facts)
        | responses_api.body_ranges(chat_ranges, facts)
        | messages_api.body_ranges(chat_ranges, facts)
        | embeddings.body_ranges(chat_ranges["model"])
    )
    model = facts.models[0] if facts.models else None
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
    document: JSON = {
        "openapi": "3.1.0",
        "info": {
            "title": "mlxfn",
            "version": __version__,
            "description": "An OpenAI-compatible chat completions (and legacy completions) "
            "server on MLX.",
        },
        "paths": paths.paths() | messages_api.paths(paths.ERROR_WHY, paths.SECURITY),
        "components": {
            "schemas": {
                **schemas.components,
                **chat_responses.response_schemas(facts.reasoning_field),
                **responses_api.response_schemas(),
                **messages_api.response_schemas(),
                **embeddings.response_schemas(),
            },
        },
    }
    if not facts.authenticated:
        return {**document, "paths": paths.without_auth(document["paths"])}
    document["components"]["securitySchemes"] = paths.SECURITY_SCHEMES
    return document


@functools.lru_cache(maxsize=8)
def encode_openapi(facts: OpenApiFacts) -> bytes:
    """The document a server with these facts serves, encoded once per facts."""
    return encode_json(build_openapi(facts))
