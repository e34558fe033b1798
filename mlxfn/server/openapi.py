"""The OpenAPI 3.1 document of mlxfn's own API, served at ``/openapi.json``.

Request schemas are derived from the wire bodies (``ChatBody``, ``TokenizeBody``), so a field
added there appears here; the ranges that ``wire/requests.py`` checks are laid over them.
Response schemas are written out: they are what ``wire/responses.py`` renders.
"""

from __future__ import annotations

import functools
import types
import typing
from typing import Any, Final, Union

import attrs

from mlxfn._version import __version__
from mlxfn.domain.values import INT64_MAX, MAX_CHOICES
from mlxfn.pipeline.plan import DEFAULT_MAX_CHOICES
from mlxfn.server import openapi_embeddings, openapi_messages, openapi_responses
from mlxfn.wire.bodies import (
    ROLE_OF_BODY,
    AssistantBody,
    ChatBody,
    CompletionBody,
    ContentPartBody,
    DetokenizeBody,
    FunctionBody,
    FunctionDefinitionBody,
    JsonSchemaBody,
    ResponseFormatBody,
    StreamOptionsBody,
    TokenizeBody,
    ToolDefinitionBody,
)
from mlxfn.wire.codec import encode_json
from mlxfn.wire.embeddings import EmbeddingsBody
from mlxfn.wire.messages_api_bodies import CountTokensBody, CustomToolBody, MessagesBody
from mlxfn.wire.responses_api_bodies import ResponsesBody

JSON = dict[str, Any]

_REF = "#/components/schemas/"
_NULL: Final[JSON] = {"type": "null"}
_PRIMITIVES: Final[dict[object, JSON]] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    type(None): _NULL,
    Any: {},
}

# What wire/requests.py and the domain values check beyond the types, laid over the non-null
# branch of each field: ranges, and the one harmless value of each field mlxfn cannot honour yet.
_NON_EMPTY = {"type": "string", "minLength": 1}
_CHAT_RANGES: Final[dict[str, JSON]] = {
    "model": {"minLength": 1, "pattern": r"\S", "description": "the served model's id"},
    "messages": {"minItems": 1},
    "temperature": {"minimum": 0, "maximum": 2, "description": "0 means greedy decoding"},
    "top_p": {"exclusiveMinimum": 0, "maximum": 1},
    "top_k": {"minimum": 1, "maximum": INT64_MAX, "description": "an mlxfn extension"},
    "min_p": {"minimum": 0, "maximum": 1, "description": "an mlxfn extension"},
    "max_tokens": {"minimum": 1, "maximum": INT64_MAX},
    "max_completion_tokens": {
        "minimum": 1,
        "maximum": INT64_MAX,
        "description": "supersedes max_tokens when both are sent",
    },
    "seed": {"minimum": -(2**63), "maximum": INT64_MAX},
    "stop": {
        "anyOf": [
            _NON_EMPTY,
            {"type": "array", "items": _NON_EMPTY, "minItems": 1, "maxItems": 4},
        ]
    },
    "n": {
        "minimum": 1,
        "maximum": MAX_CHOICES,
        "description": "choices of the one prompt; this server generates at most "
        f"min({DEFAULT_MAX_CHOICES}, its batch size), else 400",
    },
    "frequency_penalty": {"minimum": -2, "maximum": 2},
    "presence_penalty": {"minimum": -2, "maximum": 2},
    "repetition_penalty": {
        "exclusiveMinimum": 0,
        "description": "an mlxfn extension: mlx-lm's multiplicative penalty over the last "
        "20 tokens of the context",
    },
    "logit_bias": {
        "propertyNames": {"pattern": "^[0-9]{1,19}$"},
        "additionalProperties": {"type": "number", "minimum": -100, "maximum": 100},
        "description": "keys are token ids inside the model's vocabulary",
    },
    "top_logprobs": {"minimum": 0, "maximum": 20},
    "modalities": {"const": ["text"]},
    "store": {"const": False},
    "service_tier": {"enum": ["auto", "default"]},
}
_TOKEN_IDS: Final[JSON] = {
    "type": "array",
    "items": {"type": "integer", "minimum": 0},
    "minItems": 1,
}
_SHARED_SAMPLING = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "seed",
    "stop",
    "frequency_penalty",
    "presence_penalty",
    "repetition_penalty",
    "logit_bias",
)
_COMPLETION_RANGES: Final[dict[str, JSON]] = {
    "model": _CHAT_RANGES["model"],
    **{field: _CHAT_RANGES[field] for field in _SHARED_SAMPLING},
    "prompt": {
        "anyOf": [
            _NON_EMPTY,
            {"type": "array", "items": _NON_EMPTY, "minItems": 1},
            _TOKEN_IDS,
            {"type": "array", "items": _TOKEN_IDS, "minItems": 1},
        ],
        "description": "each string or token-id array is a prompt of its own; text is "
        "tokenized as it is (no chat template), token ids must be inside the vocabulary",
    },
    "max_tokens": {
        "minimum": 1,
        "maximum": INT64_MAX,
        "description": "16 when absent, as at OpenAI; null: the server's default cap",
    },
    "n": {
        "minimum": 1,
        "maximum": MAX_CHOICES,
        "description": "choices of each prompt; all prompts' choices together are at most "
        f"min({DEFAULT_MAX_CHOICES}, the server's batch size), else 400",
    },
    "best_of": {
        "minimum": 1,
        "maximum": MAX_CHOICES,
        "description": "only 1 or the value of n: candidates are not ranked",
    },
    "logprobs": {
        "minimum": 0,
        "maximum": 5,
        "description": "alternatives per generated token; the chosen token is always listed",
    },
    "echo": {
        "description": "the prompt's text before each choice's; only generated tokens are scored"
    },
    "suffix": {"maxLength": 0, "description": "not supported: no fill-in-the-middle"},
}
_RANGES: Final[dict[type[Any], dict[str, JSON]]] = {
    ChatBody: _CHAT_RANGES,
    CompletionBody: _COMPLETION_RANGES,
    ContentPartBody: {"type": {"enum": ["text", "refusal"]}},
    StreamOptionsBody: {"include_obfuscation": {"const": False}},
    ResponseFormatBody: {"type": {"enum": ["text", "json_object", "json_schema"]}},
    JsonSchemaBody: {
        "name": {"pattern": "^[A-Za-z0-9_-]{1,64}$"},
        "schema": {"description": "a JSON Schema llguidance can compile; enforced while decoding"},
        "strict": {"description": "the schema is enforced either way"},
    },
    ToolDefinitionBody: {"type": {"const": "function"}},
    FunctionDefinitionBody: {
        "name": {"pattern": "^[a-zA-Z0-9_-]{1,64}$"},
        "parameters": {"properties": {"type": {"const": "object"}}},
    },
    TokenizeBody: {
        "messages": {"minItems": 1},
        "add_special_tokens": {
            "description": "the tokenizer's special tokens (a BOS, say) around text or prompt; "
            "default true for prompt (as vLLM), false for text; must be false with messages, "
            "whose template writes them"
        },
    },
    DetokenizeBody: {
        "tokens": {"items": {"type": "integer", "minimum": 0}},
    },
}
# Fields (and message classes) that mlxfn rejects whenever they are set: only null passes.
_NULL_ONLY: Final[dict[type[Any], frozenset[str]]] = {
    ChatBody: frozenset(
        {
            "functions",
            "function_call",
            "audio",
            "prediction",
            "reasoning_effort",
            "verbosity",
            "web_search_options",
            "moderation",
        }
    ),
    AssistantBody: frozenset({"audio", "function_call"}),
    ToolDefinitionBody: frozenset({"custom"}),
    **openapi_responses.NULL_ONLY,
}
_REJECTED: Final = frozenset({FunctionBody})  # the deprecated function role


def _when(field: str, value: object, then: JSON) -> JSON:
    return {"if": {"properties": {field: {"const": value}}, "required": [field]}, "then": then}


def _present(field: str, schema: JSON) -> JSON:
    return {"properties": {field: schema}, "required": [field]}


_STREAM_OPTIONS_NEED_STREAM: Final[JSON] = {
    "if": _present("stream_options", {"type": "object"}),
    "then": _present("stream", {"const": True}),
}
# Rules across fields, checked in wire/requests.py, added to the object schemas.
_RULES: Final[dict[type[Any], JSON]] = {
    CompletionBody: _STREAM_OPTIONS_NEED_STREAM,
    ChatBody: {
        "allOf": [
            _STREAM_OPTIONS_NEED_STREAM,
            {
                "if": _present("top_logprobs", {"type": "integer", "minimum": 1}),
                "then": _present("logprobs", {"const": True}),
            },
        ]
    },
    ToolDefinitionBody: _present("function", {"type": "object"}),
    ContentPartBody: {
        "allOf": [
            _when("type", "text", _present("text", {"type": "string"})),
            _when("type", "refusal", _present("refusal", {"type": "string"})),
        ]
    },
    AssistantBody: {
        "anyOf": [
            _present("content", {"not": _NULL}),
            _present("refusal", {"type": "string"}),
            _present("tool_calls", {"type": "array", "minItems": 1}),
        ]
    },
    ResponseFormatBody: _when("type", "json_schema", _present("json_schema", {"type": "object"})),
    TokenizeBody: {
        "oneOf": [
            _present("text", {"type": "string"}),
            _present("prompt", {"type": "string"}),
            _present("messages", {"type": "array"}),
        ],
        "if": _present("messages", {"type": "array"}),
        "then": {"properties": {"add_special_tokens": {"not": {"const": True}}}},
    },
    **openapi_responses.RULES,
    **openapi_messages.RULES,
}
_CHAT_DESCRIPTION = (
    "Every field OpenAI defines is listed. Fields mlxfn cannot honour (audio, web search, "
    "predicted outputs, ...) accept only "
    "their harmless values (null, the default, empty); anything else is a 400 whose param "
    "names the field. stream_options needs stream: true. Fields nobody defines are ignored."
)


_COMPLETION_DESCRIPTION = (
    "OpenAI's legacy completions: text in, text out, no chat template. Every field OpenAI "
    "defines is listed; suffix, and a best_of other than 1 or n, are a 400 naming the field. "
    "stream_options needs stream: true. Fields nobody defines are ignored."
)


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (Union, types.UnionType) and type(None) in args:
        rest = tuple(arg for arg in args if arg is not type(None))
        return (rest[0] if len(rest) == 1 else Union[rest]), True  # noqa: UP007  a runtime union
    return tp, False


class _Schemas:
    """Turns wire types into JSON Schema, collecting one component per attrs class."""

    def __init__(self, ranges: dict[type[Any], dict[str, JSON]]) -> None:
        self.ranges = ranges
        self.components: dict[str, JSON] = {}

    def of(self, tp: Any) -> JSON:
        if tp in _PRIMITIVES:
            return dict(_PRIMITIVES[tp])
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin in (Union, types.UnionType):
            inner, nullable = _unwrap_optional(tp)
            if nullable:
                return {"anyOf": [self.of(inner), _NULL]}
            return {"anyOf": [self.of(arg) for arg in args if arg not in _REJECTED]}
        if origin is tuple:
            return {"type": "array", "items": self.of(args[0])}
        if origin is dict:
            return {"type": "object", "additionalProperties": self.of(args[1])}
        if attrs.has(tp):
            return self.component(tp)
        raise TypeError(f"no JSON Schema for {tp!r}")

    def component(self, cls: type[Any]) -> JSON:
        name = cls.__name__
        if name not in self.components:
            self.components[name] = {}  # claimed first, so that a cycle would end here
            self.components[name] = self._object(cls)
        return {"$ref": _REF + name}

    def _object(self, cls: type[Any]) -> JSON:
        ranges, nulls = self.ranges.get(cls, {}), _NULL_ONLY.get(cls, frozenset())
        hints = typing.get_type_hints(cls)
        properties: JSON = {}
        required: list[str] = []
        role = ROLE_OF_BODY.get(cls)
        if role is not None:  # a message body: its role is the tag that picks the class
            properties["role"] = {"const": role}
            required.append("role")
        for field in attrs.fields(cls):
            if field.name in nulls:
                properties[field.name] = {"type": "null", "description": "not supported"}
                continue
            inner, nullable = _unwrap_optional(hints[field.name])
            schema = {**self.of(inner), **ranges.get(field.name, {})}
            properties[field.name] = {"anyOf": [schema, _NULL]} if nullable else schema
            if field.default is attrs.NOTHING:
                required.append(field.name)
        schema = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        return schema | _RULES.get(cls, {})


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
    "description": "a reasoning model's thinking; the field is named by --reasoning-field "
    "(reasoning_content unless the server says otherwise)",
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
            "top_logprobs": {"type": "array", "items": alternative, "maxItems": 20},
        },
        "required": [*fields, "top_logprobs"],
    }
    return {
        "anyOf": [
            _NULL,
            {
                "type": "object",
                "description": "with logprobs: true; the tokens whose text the content holds",
                "properties": {
                    "content": {"type": "array", "items": token},
                    "refusal": _NULL,
                },
                "required": ["content", "refusal"],
            },
        ]
    }


def _completion_schema() -> JSON:
    message = {
        "type": "object",
        "properties": {
            "role": {"const": "assistant"},
            "content": {"type": ["string", "null"]},
            "refusal": _NULL,
            "tool_calls": {"type": "array", "items": _TOOL_CALL, "minItems": 1},
            "reasoning_content": _REASONING,
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
            "usage": {"$ref": _REF + "Usage"},
        },
        "required": ["id", "object", "created", "model", "choices", "usage"],
    }


def _chunk_schema() -> JSON:
    delta = {
        "type": "object",
        "properties": {
            "role": {"const": "assistant"},
            "content": {"type": "string"},
            "tool_calls": {"type": "array", "items": _TOOL_CALL_DELTA, "minItems": 1},
            "reasoning_content": _REASONING,
        },
    }
    choice = {
        "type": "object",
        "properties": {
            "index": {"type": "integer"},
            "delta": delta,
            "logprobs": _logprobs_schema(),
            "finish_reason": {"anyOf": [_FINISH_REASON, _NULL]},
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
            "usage": {"anyOf": [{"$ref": _REF + "Usage"}, _NULL]},
        },
        "required": ["id", "object", "created", "model", "choices"],
    }


def _event_schema(chunk: str = "ChatCompletionChunk") -> JSON:
    # Before OpenAPI 3.2's itemSchema, an event stream's schema describes each event.
    embedded = {
        "type": "string",
        "contentMediaType": "application/json",
        "contentSchema": {"anyOf": [{"$ref": _REF + chunk}, {"$ref": _REF + "ErrorResponse"}]},
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
            _NULL,
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
                {"anyOf": [{"enum": ["stop", "length"]}, _NULL]}
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
            "usage": {"$ref": _REF + "Usage"},
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
        },
        "required": ["id", "object", "created", "owned_by"],
    }


def _response_schemas() -> dict[str, JSON]:
    return {
        "ErrorResponse": _error_schema(),
        "Usage": _usage_schema(),
        "ChatCompletion": _completion_schema(),
        "ChatCompletionChunk": _chunk_schema(),
        "ChatCompletionEvent": _event_schema(),
        "TextCompletion": _text_completion_schema(chunk=False),
        "TextCompletionChunk": _text_completion_schema(chunk=True),
        "TextCompletionEvent": _event_schema("TextCompletionChunk"),
        "Model": _model_schema(),
        "ModelList": {
            "type": "object",
            "properties": {
                "object": {"const": "list"},
                "data": {"type": "array", "items": {"$ref": _REF + "Model"}},
            },
            "required": ["object", "data"],
        },
        "TokenCount": {
            "type": "object",
            "properties": {
                "count": {"type": "integer", "minimum": 0},
                "max_model_len": {"type": "integer", "minimum": 1},
                "tokens": {"type": "array", "items": {"type": "integer"}},
            },
            "required": ["count", "max_model_len", "tokens"],
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


_ERROR_WHY: Final[dict[int, str]] = {
    400: "invalid request, or prompt plus completion longer than the context",
    401: "a missing or wrong API key (only when the server has keys)",
    403: "a Host the server does not answer (without API keys: the bound address, a loopback "
    "name or --allowed-hosts), or an Origin other than its own and --cors-origins",
    404: "the model is not served here, or no stored response has the id",
    413: "the body is larger than the server's limit",
    415: "the body is not sent as Content-Type: application/json",
    429: "the queue is full; retry after Retry-After seconds",
    500: "an internal error; details go to the server's log only",
    503: "the engine has stopped, the server is draining for shutdown, or a deadline passed",
}


def _json(ref: str) -> JSON:
    return {"application/json": {"schema": {"$ref": _REF + ref}}}


def _errors(*statuses: int) -> JSON:
    return {
        str(status): {"description": _ERROR_WHY[status], "content": _json("ErrorResponse")}
        for status in statuses
    }


def _operation(
    summary: str, responses: JSON, *, request: str | None = None, protected: bool = False
) -> JSON:
    operation: JSON = {"summary": summary, "operationId": summary.lower().replace(" ", "_")}
    if request is not None:
        operation["requestBody"] = {"required": True, "content": _json(request)}
    operation["responses"] = responses
    if protected:  # Bearer only when the server was started with API keys
        operation["security"] = [{}, {"bearer": []}]
    return operation


def _paths() -> JSON:
    chat_ok = {
        "description": "a completion, or ChatCompletionChunk server-sent events if stream is true",
        "content": {
            **_json("ChatCompletion"),
            "text/event-stream": {"schema": {"$ref": _REF + "ChatCompletionEvent"}},
        },
    }
    text_ok = {
        "description": "a text completion, or TextCompletionChunk server-sent events if "
        "stream is true",
        "content": {
            **_json("TextCompletion"),
            "text/event-stream": {"schema": {"$ref": _REF + "TextCompletionEvent"}},
        },
    }
    stored = {"response_id": "$response.body#/id"}
    responses_ok = {
        "description": "a Response, or its stream's typed server-sent events if stream is true",
        "content": {
            **_json("Response"),
            "text/event-stream": {"schema": {"$ref": _REF + "ResponseEvent"}},
        },
        "links": {
            "RetrieveResponse": {"operationId": "retrieve_response", "parameters": stored},
            "DeleteResponse": {"operationId": "delete_response", "parameters": stored},
        },
    }
    return {
        "/v1/chat/completions": {
            "post": _operation(
                "Create chat completion",
                {"200": chat_ok, **_errors(400, 401, 403, 404, 413, 415, 429, 500, 503)},
                request="ChatBody",
                protected=True,
            )
        },
        "/v1/completions": {
            "post": _operation(
                "Create completion",
                {"200": text_ok, **_errors(400, 401, 403, 404, 413, 415, 429, 500, 503)},
                request="CompletionBody",
                protected=True,
            )
        },
        "/v1/responses": {
            "post": _operation(
                "Create response",
                {"200": responses_ok, **_errors(400, 401, 403, 404, 413, 415, 429, 500, 503)},
                request="ResponsesBody",
                protected=True,
            )
        },
        "/v1/responses/{response_id}": {
            "parameters": [
                {
                    "name": "response_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": openapi_responses.RESPONSE_ID},
                }
            ],
            "get": _operation(
                "Retrieve response",
                {"200": {"description": "the stored response", "content": _json("Response")}}
                | _errors(401, 403, 404, 503),
                protected=True,
            ),
            "delete": _operation(
                "Delete response",
                {"200": {"description": "it was deleted", "content": _json("ResponseDeleted")}}
                | _errors(401, 403, 404, 503),
                protected=True,
            ),
        },
        "/v1/models": {
            "get": _operation(
                "List models",
                {"200": {"description": "the served model", "content": _json("ModelList")}}
                | _errors(401, 403, 503),
                protected=True,
            )
        },
        "/v1/models/{model_id}": {
            "parameters": [
                {"name": "model_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": _operation(
                "Retrieve model",
                {"200": {"description": "the served model", "content": _json("Model")}}
                | _errors(401, 403, 404, 503),
                protected=True,
            ),
        },
        "/v1/tokenize": {
            "post": _operation(
                "Tokenize",
                {"200": {"description": "the token ids", "content": _json("TokenCount")}}
                | _errors(400, 401, 403, 404, 413, 415, 500, 503),
                request="TokenizeBody",
                protected=True,
            )
        },
        "/v1/embeddings": {
            "post": _operation(
                "Create embeddings",
                {"200": {"description": "one vector per input", "content": _json("EmbeddingList")}}
                | _errors(400, 401, 403, 404, 413, 415, 500, 503),
                request="EmbeddingsBody",
                protected=True,
            )
        },
        "/tokenize": {
            "post": _operation(
                "Tokenize (vLLM's route)",
                {"200": {"description": "the token ids", "content": _json("TokenCount")}}
                | _errors(400, 401, 403, 404, 413, 415, 500, 503),
                request="TokenizeBody",
                protected=True,
            )
        },
        "/detokenize": {
            "post": _operation(
                "Detokenize (vLLM's route)",
                {"200": {"description": "the text", "content": _json("Detokenized")}}
                | _errors(400, 401, 403, 404, 413, 415, 500, 503),
                request="DetokenizeBody",
                protected=True,
            )
        },
        "/health": {
            "get": _operation(
                "Health",
                {
                    "200": {"description": "serving", "content": _json("Health")},
                    "503": {
                        "description": "the engine has stopped, or the server is draining",
                        "content": _json("Health"),
                    },
                }
                | _errors(403),
            )
        },
        "/metrics": {
            "get": _operation(
                "Metrics",
                {
                    "200": {
                        "description": "Prometheus text exposition format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                }
                | _errors(403),
            )
        },
        "/": {
            "get": _operation(
                "Chat page",
                {
                    "200": {
                        "description": "the chat page (404 when the server runs with --no-ui)",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                }
                | _errors(403, 404),
            )
        },
        "/ui/{filename}": {
            "get": _operation(
                "Chat page files",
                {
                    "200": {
                        "description": "the chat page's script or style sheet",
                        "content": {
                            "text/javascript": {"schema": {"type": "string"}},
                            "text/css": {"schema": {"type": "string"}},
                        },
                    }
                }
                | _errors(403, 404),
            ),
            "parameters": [
                {
                    "name": "filename",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": ["chat.js", "chat.css"]},
                }
            ],
        },
        "/openapi.json": {
            "get": _operation(
                "OpenAPI document",
                {"200": {"description": "this document", "content": {"application/json": {}}}}
                | _errors(403),
            )
        },
    }


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
        dict(_RANGES)
        | openapi_responses.body_ranges(_CHAT_RANGES)
        | openapi_messages.body_ranges(_CHAT_RANGES)
        | openapi_embeddings.body_ranges(_CHAT_RANGES["model"])
    )
    if model is not None:
        served = {"enum": [model], "description": "the served model's id"}
        ranges[ChatBody] = {**_CHAT_RANGES, "model": {"type": "string", **served}}
        ranges[CompletionBody] = {**_COMPLETION_RANGES, "model": {"type": "string", **served}}
        ranges[TokenizeBody] = {**_RANGES[TokenizeBody], "model": served}
        ranges[DetokenizeBody] = {**_RANGES[DetokenizeBody], "model": served}
        ranges[ResponsesBody] = {**ranges[ResponsesBody], "model": {"type": "string", **served}}
        ranges |= openapi_embeddings.body_ranges({"type": "string", **served})
        for anthropic in (MessagesBody, CountTokensBody):
            ranges[anthropic] = {**ranges[anthropic], "model": {"type": "string", **served}}
    schemas = _Schemas(ranges)
    chat = schemas.component(ChatBody)["$ref"]
    schemas.components[chat.removeprefix(_REF)]["description"] = _CHAT_DESCRIPTION
    completion = schemas.component(CompletionBody)["$ref"]
    schemas.components[completion.removeprefix(_REF)]["description"] = _COMPLETION_DESCRIPTION
    responses = schemas.component(ResponsesBody)["$ref"]
    responses_body = schemas.components[responses.removeprefix(_REF)]
    responses_body["description"] = openapi_responses.DESCRIPTION
    responses_body["examples"] = [openapi_responses.example_body(model)]
    for item in openapi_responses.ITEM_BODIES:  # input's items, named in its anyOf
        schemas.component(item)
    messages = schemas.component(MessagesBody)["$ref"]
    messages_body = schemas.components[messages.removeprefix(_REF)]
    messages_body["description"] = openapi_messages.DESCRIPTION
    messages_body["examples"] = [openapi_messages.example_body(model)]
    schemas.component(CountTokensBody)
    for block in (*openapi_messages.BLOCK_BODIES, CustomToolBody):  # named in anyOfs
        schemas.component(block)
    tokenize = schemas.component(TokenizeBody)["$ref"]
    schemas.components[tokenize.removeprefix(_REF)]["description"] = (
        "send exactly one of text, prompt or messages; messages are counted as the chat "
        "template renders them for generation"
    )
    embeddings = schemas.component(EmbeddingsBody)["$ref"]
    schemas.components[embeddings.removeprefix(_REF)]["description"] = (
        openapi_embeddings.DESCRIPTION
    )
    detokenize = schemas.component(DetokenizeBody)["$ref"]
    schemas.components[detokenize.removeprefix(_REF)]["description"] = (
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
        "paths": _paths() | openapi_messages.paths(_ERROR_WHY),
        "components": {
            "schemas": {
                **schemas.components,
                **_response_schemas(),
                **openapi_responses.response_schemas(),
                **openapi_messages.response_schemas(),
                **openapi_embeddings.response_schemas(),
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
