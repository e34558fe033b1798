"""The response schemas of ``/openapi.json`` for chat, completions, models, tokenize and
health: what ``wire/responses.py`` and ``wire/completions.py`` render, written out, and the
error body every route shares."""

from __future__ import annotations

from typing import Final

from mlxfn.domain.values import TOP_LOGPROBS_LIMIT
from mlxfn.server.openapi.schemas import JSON, NULL, REF


def _error_schema() -> JSON:
    nullable_string = {"type": ["string", "null"]}
    error = {
        "type": "object",
        "properties": {
            "message": {"type": "string"},
            "type": {"type": "string"},
            "param": nullable_string,
            "code": nullable_string,
        },
        "required": ["message", "type", "param", "code"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"error": error},
        "required": ["error"],
        "additionalProperties": False,
    }


def _usage_schema() -> JSON:
    count = {"type": "integer", "minimum": 0}
    return {
        "type": "object",
        "properties": {
            "prompt_tokens": count,
            "completion_tokens": count,
            "total_tokens": count,
            "prompt_tokens_details": {
                "type": "object",
                "properties": {"cached_tokens": count},
                "required": ["cached_tokens"],
            },
        },
        "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
    }


_FINISH_REASON: Final[JSON] = {"enum": ["stop", "length", "tool_calls"]}
_TOOL_CALL: Final[JSON] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "type": {"const": "function"},
        "function": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "arguments": {"type": "string"}},
            "required": ["name", "arguments"],
        },
    },
    "required": ["id", "type", "function"],
}
_TOOL_CALL_DELTA: Final[JSON] = {
    "type": "object",
    "description": "a call's first delta has its id, type and name; later ones add arguments",
    "properties": {
        "index": {"type": "integer", "minimum": 0},
        "id": {"type": "string"},
        "type": {"const": "function"},
        "function": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "arguments": {"type": "string"}},
        },
    },
    "required": ["index"],
}
_REASONING: Final[JSON] = {
    "type": "string",
    "description": "a reasoning model's thinking, under the name --reasoning-field gives",
}


def _logprobs_schema() -> JSON:
    fields: JSON = {
        "token": {"type": "string"},
        "logprob": {"type": "number", "maximum": 0},
        "bytes": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255}},
    }
    alternative = {"type": "object", "properties": fields, "required": list(fields)}
    token = {
        "type": "object",
        "properties": {
            **fields,
            "top_logprobs": {"type": "array", "items": alternative, "maxItems": TOP_LOGPROBS_LIMIT},
        },
        "required": [*fields, "top_logprobs"],
    }
    return {
        "anyOf": [
            NULL,
            {
                "type": "object",
                "description": "with logprobs: true; the tokens whose text the content holds",
                "properties": {
                    "content": {"type": "array", "items": token},
                    "refusal": NULL,
                },
                "required": ["content", "refusal"],
            },
        ]
    }


def _completion_schema(reasoning_field: str) -> JSON:
    message = {
        "type": "object",
        "properties": {
            "role": {"const": "assistant"},
            "content": {"type": ["string", "null"]},
            "refusal": NULL,
            "tool_calls": {"type": "array", "items": _TOOL_CALL, "minItems": 1},
            reasoning_field: _REASONING,
        },
        "required": ["role", "content"],
    }
    choice = {
        "type": "object",
        "properties": {
            "index": {"type": "integer"},
            "message": message,
            "logprobs": _logprobs_schema(),
            "finish_reason": _FINISH_REASON,
        },
        "required": ["index", "message", "finish_reason"],
    }
    return {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "chat.completion"},
            "created": {"type": "integer"},
            "model": {"type": "string"},
            "choices": {"type": "array", "items": choice, "minItems": 1},
            "usage": {"$ref": REF + "Usage"},
        },
        "required": ["id", "object", "created", "model", "choices", "usage"],
    }


def _chunk_schema(reasoning_field: str) -> JSON:
    delta = {
        "type": "object",
        "properties": {
            "role": {"const": "assistant"},
            "content": {"type": "string"},
            "tool_calls": {"type": "array", "items": _TOOL_CALL_DELTA, "minItems": 1},
            reasoning_field: _REASONING,
        },
    }
    choice = {
        "type": "object",
        "properties": {
            "index": {"type": "integer"},
            "delta": delta,
            "logprobs": _logprobs_schema(),
            "finish_reason": {"anyOf": [_FINISH_REASON, NULL]},
        },
        "required": ["index", "delta", "finish_reason"],
    }
    return {
        "type": "object",
        "description": "one server-sent event's data; the stream ends with 'data: [DONE]'",
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "chat.completion.chunk"},
            "created": {"type": "integer"},
            "model": {"type": "string"},
            "choices": {"type": "array", "items": choice, "maxItems": 1},
            "usage": {"anyOf": [{"$ref": REF + "Usage"}, NULL]},
        },
        "required": ["id", "object", "created", "model", "choices"],
    }


def _event_schema(chunk: str = "ChatCompletionChunk") -> JSON:
    # Before OpenAPI 3.2's itemSchema, an event stream's schema describes each event.
    embedded = {
        "type": "string",
        "contentMediaType": "application/json",
        "contentSchema": {"anyOf": [{"$ref": REF + chunk}, {"$ref": REF + "ErrorResponse"}]},
    }
    return {
        "type": "object",
        "description": "one server-sent event: a chunk, an error once the stream has started, "
        "or the final [DONE]",
        "properties": {"data": {"anyOf": [{"const": "[DONE]"}, embedded]}},
        "required": ["data"],
    }


def _legacy_logprobs_schema() -> JSON:
    return {
        "anyOf": [
            NULL,
            {
                "type": "object",
                "description": "with logprobs set: the generated tokens (not an echoed "
                "prompt's), each position's alternatives by token text, and where each "
                "token starts in the choice's text",
                "properties": {
                    "tokens": {"type": "array", "items": {"type": "string"}},
                    "token_logprobs": {"type": "array", "items": {"type": "number", "maximum": 0}},
                    "top_logprobs": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": {"type": "number", "maximum": 0},
                            "maxProperties": 6,
                        },
                    },
                    "text_offset": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                },
                "required": ["tokens", "token_logprobs", "top_logprobs", "text_offset"],
            },
        ]
    }


def _text_completion_schema(*, chunk: bool) -> JSON:
    choice = {
        "type": "object",
        "properties": {
            "index": {"type": "integer", "minimum": 0},
            "text": {"type": "string"},
            "logprobs": _legacy_logprobs_schema(),
            "finish_reason": (
                {"anyOf": [{"enum": ["stop", "length"]}, NULL]}
                if chunk
                else {"enum": ["stop", "length"]}
            ),
        },
        "required": ["index", "text", "logprobs", "finish_reason"],
    }
    schema: JSON = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "text_completion"},
            "created": {"type": "integer"},
            "model": {"type": "string"},
            "choices": {"type": "array", "items": choice},
            "usage": {"$ref": REF + "Usage"},
        },
        "required": ["id", "object", "created", "model", "choices"],
    }
    if chunk:
        schema["description"] = (
            "one server-sent event's data: a choice's text, its finish, or (with "
            "stream_options.include_usage) the usage with no choices; then 'data: [DONE]'"
        )
        schema["properties"]["choices"]["maxItems"] = 1
    else:
        schema["required"] = [*schema["required"], "usage"]
        schema["properties"]["choices"]["minItems"] = 1
    return schema


def _model_schema() -> JSON:
    return {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "model"},
            "created": {"type": "integer"},
            "owned_by": {"type": "string"},
            "state": {
                "enum": ["loaded", "loading", "unloaded"],
                "description": "whether the model is in memory; an unloaded one loads on its "
                "next request",
            },
            "parent": {"type": "string", "description": "an adapter's base model id"},
        },
        "required": ["id", "object", "created", "owned_by", "state"],
    }


def response_schemas(reasoning_field: str) -> dict[str, JSON]:
    return {
        "ErrorResponse": _error_schema(),
        "Usage": _usage_schema(),
        "ChatCompletion": _completion_schema(reasoning_field),
        "ChatCompletionChunk": _chunk_schema(reasoning_field),
        "ChatCompletionEvent": _event_schema(),
        "TextCompletion": _text_completion_schema(chunk=False),
        "TextCompletionChunk": _text_completion_schema(chunk=True),
        "TextCompletionEvent": _event_schema("TextCompletionChunk"),
        "Model": _model_schema(),
        "ModelList": {
            "type": "object",
            "properties": {
                "object": {"const": "list"},
                "data": {"type": "array", "items": {"$ref": REF + "Model"}},
            },
            "required": ["object", "data"],
        },
        "TokenCount": {
            "type": "object",
            "properties": {
                "count": {"type": "integer", "minimum": 0},
                "max_model_len": {"type": "integer", "minimum": 1},
                "tokens": {"type": "array", "items": {"type": "integer"}},
                "token_strs": {
                    "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
                    "description": "each token as the vocabulary spells it, with "
                    "return_token_strs; null otherwise",
                },
            },
            "required": ["count", "max_model_len", "tokens", "token_strs"],
        },
        "Detokenized": {
            "type": "object",
            "properties": {"prompt": {"type": "string"}},
            "required": ["prompt"],
        },
        "Health": {
            "type": "object",
            "properties": {
                "status": {"enum": ["healthy", "draining", "unhealthy"]},
                "model": {"type": "string"},
                "version": {"type": "string"},
            },
            "required": ["status", "model", "version"],
        },
    }
