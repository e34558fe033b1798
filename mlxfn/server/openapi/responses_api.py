"""The Responses API's part of ``/openapi.json``: what the document lays over the schemas
it derives from ``wire/responses_api_bodies.py``, and the Response and stream-event schemas
``wire/responses_api_render.py`` renders."""

from __future__ import annotations

from typing import Any, Final

from mlxfn.server.openapi.chat_requests import max_tokens_range
from mlxfn.server.openapi.facts import OpenApiFacts
from mlxfn.server.openapi.schemas import JSON, NULL, REF, object_schema, present, sse_event, when
from mlxfn.wire.responses_api_bodies import (
    FunctionCallItemBody,
    FunctionCallOutputItemBody,
    FunctionToolBody,
    InputPartBody,
    MessageItemBody,
    ReasoningConfigBody,
    ReasoningItemBody,
    ResponsesBody,
    TextConfigBody,
    TextFormatBody,
)
from mlxfn.wire.responses_api_requests import HARMLESS_INCLUDES
from mlxfn.wire.responses_api_tools import HOSTED_TOOLS

RESPONSE_ID: Final = "^resp_[0-9a-f]{32}$"  # what the server issues; no other id is stored
ITEM_BODIES: Final = (
    MessageItemBody,
    FunctionCallItemBody,
    FunctionCallOutputItemBody,
    ReasoningItemBody,
)


def body_ranges(
    chat_ranges: dict[str, JSON], facts: OpenApiFacts
) -> dict[type[Any], dict[str, JSON]]:
    """The checks of ``responses_api_requests.py`` beyond the types, per wire class; the
    sampling fields' ranges are chat's."""
    shared = ("model", "temperature", "top_p", "top_k", "min_p", "seed", "repetition_penalty")
    return {
        ResponsesBody: {
            **{field: chat_ranges[field] for field in shared},
            "input": {
                "anyOf": [
                    {"type": "string"},
                    {
                        "type": "array",
                        "items": {"anyOf": [{"$ref": REF + c.__name__} for c in ITEM_BODIES]},
                    },
                ],
                "description": "a string is one user message; items are messages (type "
                "'message' or none), function_call, function_call_output and reasoning items "
                "(reasoning is left out of the prompt). With no previous_response_id and no "
                "instructions there must be at least one item",
            },
            "max_output_tokens": max_tokens_range(facts),
            "top_logprobs": {"const": 0},
            "truncation": {"const": "disabled"},
            "service_tier": {"enum": ["auto", "default"]},
            "background": {"const": False},
            "include": {"items": {"enum": sorted(HARMLESS_INCLUDES)}},
            "context_management": {"maxItems": 0},
            "tool_choice": {
                "anyOf": [
                    {"enum": ["none", "auto", "required"]},
                    {
                        "type": "object",
                        "properties": {"type": {"const": "function"}, "name": {"type": "string"}},
                        "required": ["type", "name"],
                    },
                ],
                "description": "required, or a named function, needs tools (and that name "
                "among them)",
            },
            "store": {"description": "true unless false: kept in this server's memory only"},
            "previous_response_id": {
                "pattern": RESPONSE_ID,
                "description": "a stored response's id; its conversation comes before input",
            },
        },
        MessageItemBody: {
            "role": {"enum": ["user", "system", "developer", "assistant"]},
            "type": {"const": "message"},
        },
        InputPartBody: {"type": {"enum": ["input_text", "output_text", "refusal"]}},
        FunctionCallItemBody: {"type": {"const": "function_call"}},
        FunctionCallOutputItemBody: {"type": {"const": "function_call_output"}},
        ReasoningItemBody: {"type": {"const": "reasoning"}},
        FunctionToolBody: {
            "type": {
                "enum": ["function", "namespace", *sorted(HOSTED_TOOLS)],
                "description": "a namespace's tools are function tools; web_search is not "
                "offered to the model (this server has no web access)",
            },
            "name": {"pattern": "^[a-zA-Z0-9_-]{1,64}$"},
            "parameters": {"properties": {"type": {"const": "object"}}},
        },
        TextFormatBody: {
            "type": {"enum": ["text", "json_object", "json_schema"]},
            "name": {"pattern": "^[A-Za-z0-9_-]{1,64}$"},
            "schema": {"description": "a JSON Schema llguidance can compile; enforced"},
        },
        TextConfigBody: {"verbosity": {"const": "medium"}},
    }


# Fields rejected whenever they are set: only null passes.
NULL_ONLY: Final[dict[type[Any], frozenset[str]]] = {
    ResponsesBody: frozenset({"max_tool_calls", "conversation", "prompt"}),
    ReasoningConfigBody: frozenset({"effort"}),
}
RULES: Final[dict[type[Any], JSON]] = {
    ResponsesBody: {
        "allOf": [
            {
                "if": present("stream_options", {"type": "object"}),
                "then": present("stream", {"const": True}),
            },
            {
                "if": present("tool_choice", {"not": {"enum": ["none", "auto"]}}),
                "then": present("tools", {"type": "array", "minItems": 1}),
            },
            {
                # the prompt needs a message: input's, the instructions or a stored turn's
                "anyOf": [
                    present("input", {"anyOf": [{"type": "string"}, {"minItems": 1}]}),
                    present("instructions", {"type": "string"}),
                    present("previous_response_id", {"type": "string"}),
                ]
            },
        ]
    },
    FunctionToolBody: {
        "allOf": [
            when("type", "function", present("name", {"type": "string"})),
            when("type", "namespace", present("name", {"type": "string"})),
        ]
    },
    TextFormatBody: when("type", "json_schema", present("name", {"type": "string"})),
    InputPartBody: {
        "allOf": [
            when("type", "input_text", present("text", {"type": "string"})),
            when("type", "output_text", present("text", {"type": "string"})),
            when("type", "refusal", present("refusal", {"type": "string"})),
        ]
    },
}
DESCRIPTION: Final = (
    "OpenAI's Responses API, run as a chat: instructions become a system message, input "
    "items messages. Every field OpenAI defines is listed; those mlxfn cannot honour accept "
    "only their harmless values, anything else is a 400 naming the field. reasoning.effort "
    "is not offered. Fields nobody defines are ignored."
)


def example_body(model: str | None) -> JSON:
    return {"model": model or "MODEL", "input": "Say hello.", "max_output_tokens": 8}


_STRING: Final[JSON] = {"type": "string"}
_COUNT: Final[JSON] = {"type": "integer", "minimum": 0}
_ITEM_STATUS: Final[JSON] = {"enum": ["in_progress", "completed", "incomplete"]}


def _output_text() -> JSON:
    return object_schema(
        {
            "type": {"const": "output_text"},
            "text": _STRING,
            "annotations": {"type": "array", "maxItems": 0},
            "logprobs": {"type": "array", "maxItems": 0},
        }
    )


def _reasoning_text() -> JSON:
    return object_schema({"type": {"const": "reasoning_text"}, "text": _STRING})


def _output_item() -> JSON:
    message = object_schema(
        {
            "id": _STRING,
            "type": {"const": "message"},
            "role": {"const": "assistant"},
            "status": _ITEM_STATUS,
            "content": {"type": "array", "items": _output_text()},
        }
    )
    call = object_schema(
        {
            "id": _STRING,
            "type": {"const": "function_call"},
            "call_id": _STRING,
            "name": _STRING,
            "arguments": {"type": "string", "description": "JSON text; empty while in_progress"},
            "status": _ITEM_STATUS,
        }
    )
    reasoning = object_schema(
        {
            "id": _STRING,
            "type": {"const": "reasoning"},
            "summary": {"type": "array", "maxItems": 0},
            "content": {"type": "array", "items": _reasoning_text()},
            "status": _ITEM_STATUS,
        }
    )
    return {"oneOf": [message, call, reasoning]}


def _usage() -> JSON:
    return object_schema(
        {
            "input_tokens": _COUNT,
            "input_tokens_details": object_schema(
                {"cached_tokens": _COUNT, "cache_write_tokens": _COUNT}
            ),
            "output_tokens": _COUNT,
            "output_tokens_details": object_schema({"reasoning_tokens": _COUNT}),
            "total_tokens": _COUNT,
        }
    )


def _response() -> JSON:
    nullable_string = {"type": ["string", "null"]}
    text_format = {
        "type": "object",
        "properties": {
            "type": {"enum": ["text", "json_object", "json_schema"]},
            "name": _STRING,
            "schema": {"type": "object"},
            "description": nullable_string,
            "strict": {"type": "boolean"},
        },
        "required": ["type"],
    }
    tool = object_schema(
        {
            "type": {"const": "function"},
            "name": _STRING,
            "description": nullable_string,
            "parameters": {"type": ["object", "null"]},
            "strict": {"type": "boolean"},
        }
    )
    required = [
        "id",
        "object",
        "created_at",
        "status",
        "error",
        "incomplete_details",
        "instructions",
        "max_output_tokens",
        "model",
        "output",
        "parallel_tool_calls",
        "previous_response_id",
        "reasoning",
        "store",
        "temperature",
        "text",
        "tool_choice",
        "tools",
        "top_p",
        "truncation",
        "usage",
        "metadata",
    ]
    return {
        "type": "object",
        "properties": {
            "id": {"type": "string", "pattern": RESPONSE_ID},
            "object": {"const": "response"},
            "created_at": {"type": "integer"},
            "status": {"enum": ["in_progress", "completed", "incomplete", "failed"]},
            "error": {
                "anyOf": [
                    NULL,
                    object_schema({"code": {"const": "server_error"}, "message": _STRING}),
                ]
            },
            "incomplete_details": {
                "anyOf": [NULL, object_schema({"reason": {"const": "max_output_tokens"}})]
            },
            "instructions": nullable_string,
            "max_output_tokens": {"type": ["integer", "null"], "minimum": 1},
            "model": _STRING,
            "output": {"type": "array", "items": {"$ref": REF + "ResponseOutputItem"}},
            "parallel_tool_calls": {"type": "boolean"},
            "previous_response_id": nullable_string,
            "reasoning": object_schema({"effort": NULL, "summary": NULL}),
            "store": {"type": "boolean"},
            "temperature": {"type": "number"},
            "text": object_schema({"format": text_format}),
            "tool_choice": {
                "anyOf": [
                    {"enum": ["none", "auto", "required"]},
                    object_schema({"type": {"const": "function"}, "name": _STRING}),
                ]
            },
            "tools": {"type": "array", "items": tool},
            "top_p": {"type": "number"},
            "truncation": {"const": "disabled"},
            "usage": {"anyOf": [NULL, {"$ref": REF + "ResponseUsage"}]},
            "user": _STRING,
            "metadata": {"type": "object", "additionalProperties": _STRING},
        },
        "required": required,
    }


_EVENT_TYPES: Final = (
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.reasoning_text.delta",
    "response.reasoning_text.done",
    "response.content_part.done",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.output_item.done",
    "response.completed",
    "response.incomplete",
    "response.failed",
)


def _stream_event() -> JSON:
    return {
        "type": "object",
        "description": "one Responses stream event; sequence_number counts from 0",
        "properties": {
            "type": {"enum": list(_EVENT_TYPES)},
            "sequence_number": _COUNT,
            "response": {"$ref": REF + "Response"},
            "output_index": _COUNT,
            "content_index": _COUNT,
            "item_id": _STRING,
            "item": {"$ref": REF + "ResponseOutputItem"},
            "part": {"anyOf": [_output_text(), _reasoning_text()]},
            "delta": _STRING,
            "text": _STRING,
            "arguments": _STRING,
            "name": _STRING,
            "logprobs": {"type": "array", "maxItems": 0},
        },
        "required": ["type", "sequence_number"],
    }


def response_schemas() -> dict[str, JSON]:
    return {
        "Response": _response(),
        "ResponseOutputItem": _output_item(),
        "ResponseUsage": _usage(),
        "ResponseStreamEvent": _stream_event(),
        "ResponseEvent": sse_event(_EVENT_TYPES, "ResponseStreamEvent"),
        "ResponseDeleted": object_schema(
            {"id": _STRING, "object": {"const": "response"}, "deleted": {"const": True}}
        ),
    }
