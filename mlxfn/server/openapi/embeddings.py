"""The OpenAPI entries for ``POST /v1/embeddings``: its body's bounds and its response."""

from __future__ import annotations

from typing import Any, Final

from mlxfn.server.openapi.schemas import JSON
from mlxfn.wire.embeddings import MAX_INPUTS, EmbeddingsBody

_NON_EMPTY: Final[JSON] = {"type": "string", "minLength": 1}
_TOKEN_IDS: Final[JSON] = {
    "type": "array",
    "items": {"type": "integer", "minimum": 0},
    "minItems": 1,
}
DESCRIPTION: Final = (
    "One vector per input: the mean of the model's last normed hidden states over the input's "
    "tokens, unit length. Text is tokenized with the tokenizer's special tokens; token ids "
    "must be inside the vocabulary; every input must fit the context. dimensions, when "
    "given, must be the model's hidden size."
)


def body_ranges(model: JSON) -> dict[type[Any], dict[str, JSON]]:
    return {
        EmbeddingsBody: {
            "model": model,
            "input": {
                "anyOf": [
                    _NON_EMPTY,
                    {"type": "array", "items": _NON_EMPTY, "minItems": 1, "maxItems": MAX_INPUTS},
                    _TOKEN_IDS,
                    {"type": "array", "items": _TOKEN_IDS, "minItems": 1, "maxItems": MAX_INPUTS},
                ]
            },
            "encoding_format": {"enum": ["float", "base64"]},
            "dimensions": {"minimum": 1},
        }
    }


def response_schemas() -> JSON:
    usage = {
        "type": "object",
        "properties": {
            "prompt_tokens": {"type": "integer", "minimum": 0},
            "total_tokens": {"type": "integer", "minimum": 0},
        },
        "required": ["prompt_tokens", "total_tokens"],
    }
    embedding = {
        "type": "object",
        "properties": {
            "object": {"const": "embedding"},
            "index": {"type": "integer", "minimum": 0},
            "embedding": {
                "anyOf": [
                    {"type": "array", "items": {"type": "number"}},
                    {"type": "string", "description": "base64 of little-endian float32"},
                ]
            },
        },
        "required": ["object", "index", "embedding"],
    }
    return {
        "EmbeddingList": {
            "type": "object",
            "properties": {
                "object": {"const": "list"},
                "data": {"type": "array", "items": embedding},
                "model": {"type": "string"},
                "usage": usage,
            },
            "required": ["object", "data", "model", "usage"],
        }
    }
