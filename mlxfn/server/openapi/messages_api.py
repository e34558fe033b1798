"""The Messages API's part of ``/openapi.json``: what the document lays over the schemas it
derives from ``wire/messages_api_bodies.py``, the Message, stream-event, token-count and error
schemas ``wire/messages_api_render.py`` renders, and the two routes."""

from __future__ import annotations

from typing import Any, Final

from mlxfn.domain.values import INT64_MAX, Stop, TopK, bounds
from mlxfn.server.openapi.chat_requests import max_tokens_range
from mlxfn.server.openapi.facts import OpenApiFacts
from mlxfn.server.openapi.schemas import JSON, REF, object_schema, present, sse_event, when
from mlxfn.wire.messages_api_bodies import (
    CountTokensBody,
    CustomToolBody,
    MessageParamBody,
    MessagesBody,
    OutputConfigBody,
    OutputFormatBody,
    TextBlockBody,
    ThinkingBlockBody,
    ThinkingConfigBody,
    ToolChoiceBody,
    ToolResultBlockBody,
    ToolUseBlockBody,
)
from mlxfn.wire.messages_api_render import ERROR_TYPES
from mlxfn.wire.messages_api_requests import EFFORTS, MAX_TEMPERATURE, SPEEDS, THINKING_TYPES

MESSAGE_ID: Final = "^msg_[0-9a-f]{32}$"
BLOCK_BODIES: Final = (TextBlockBody, ToolUseBlockBody, ToolResultBlockBody, ThinkingBlockBody)
_STRING: Final[JSON] = {"type": "string"}
_COUNT: Final[JSON] = {"type": "integer", "minimum": 0}
_SERVER_TOOL: Final[JSON] = {
    "type": "object",
    "description": "one of Anthropic's versioned server tools (web_search_20250305, "
    "bash_20250124, ...): accepted and not offered to the model (this server runs none)",
    "properties": {"type": {"type": "string", "pattern": "^[a-z][a-z0-9_]*_[0-9]{8}$"}},
    "required": ["type"],
}


def _blocks(*classes: type[Any]) -> JSON:
    return {"type": "array", "items": {"anyOf": [{"$ref": REF + c.__name__} for c in classes]}}


def body_ranges(
    chat_ranges: dict[str, JSON], facts: OpenApiFacts
) -> dict[type[Any], dict[str, JSON]]:
    """The checks of ``messages_api_requests.py`` beyond the types, per wire class; the
    sampling extensions' ranges are chat's."""
    shared = {field: chat_ranges[field] for field in ("model", "min_p", "seed")}
    shared["repetition_penalty"] = chat_ranges["repetition_penalty"]
    prompt: dict[str, JSON] = {
        "messages": {
            "minItems": 1,
            "description": "user and assistant turns; a system turn (as Claude Code sends) "
            "joins the system prompt",
        },
        "tools": {
            "items": {"anyOf": [{"$ref": REF + CustomToolBody.__name__}, _SERVER_TOOL]},
        },
        "mcp_servers": {"maxItems": 0},
        "speed": {"enum": list(SPEEDS)},
    }
    return {
        MessagesBody: {
            **shared,
            **prompt,
            "max_tokens": max_tokens_range(
                facts, "clamped to the server's --max-output-tokens when it has one"
            ),
            "temperature": {
                "minimum": 0,
                "maximum": int(MAX_TEMPERATURE),
                "description": "0 means greedy decoding",
            },
            "top_p": chat_ranges["top_p"],
            "top_k": bounds(TopK),
            # an empty list is no stop sequence here, unlike chat's stop
            "stop_sequences": {k: v for k, v in bounds(Stop).items() if k != "minItems"},
            "service_tier": {"enum": ["auto", "standard_only"]},
        },
        CountTokensBody: {**{"model": chat_ranges["model"]}, **prompt},
        MessageParamBody: {
            "role": {"enum": ["user", "assistant", "system"]},
            "content": {"anyOf": [_STRING, _blocks(*BLOCK_BODIES)]},
        },
        TextBlockBody: {"type": {"const": "text"}},
        ToolUseBlockBody: {"type": {"const": "tool_use"}},
        ToolResultBlockBody: {
            "type": {"const": "tool_result"},
            "content": {"anyOf": [_STRING, _blocks(TextBlockBody)]},
        },
        ThinkingBlockBody: {"type": {"enum": ["thinking", "redacted_thinking"]}},
        CustomToolBody: {
            "type": {"const": "custom"},
            "name": {"pattern": "^[a-zA-Z0-9_-]{1,64}$"},
            "input_schema": {"properties": {"type": {"const": "object"}}},
        },
        ToolChoiceBody: {"type": {"enum": ["auto", "any", "tool", "none"]}},
        ThinkingConfigBody: {
            "type": {
                "enum": list(THINKING_TYPES),
                "description": "accepted; a reasoning model thinks as its chat template has it",
            },
            "budget_tokens": {"minimum": 1, "maximum": INT64_MAX},
        },
        OutputConfigBody: {
            "effort": {"enum": list(EFFORTS), "description": "accepted; changes nothing here"}
        },
        OutputFormatBody: {
            "type": {"const": "json_schema"},
            "schema": {"description": "a JSON Schema llguidance can compile; enforced"},
        },
    }


_FORCED_NEEDS_TOOLS: Final[JSON] = {
    "if": present("tool_choice", present("type", {"enum": ["any", "tool"]})),
    "then": present("tools", {"type": "array", "minItems": 1}),
}
RULES: Final[dict[type[Any], JSON]] = {
    MessagesBody: _FORCED_NEEDS_TOOLS,
    CountTokensBody: _FORCED_NEEDS_TOOLS,
    MessageParamBody: {
        "allOf": [
            when(
                "role",
                "user",
                {
                    "properties": {
                        "content": {"anyOf": [_STRING, _blocks(TextBlockBody, ToolResultBlockBody)]}
                    }
                },
            ),
            when(
                "role",
                "assistant",
                {
                    "properties": {
                        "content": {
                            "anyOf": [
                                _STRING,
                                _blocks(TextBlockBody, ToolUseBlockBody, ThinkingBlockBody),
                            ]
                        }
                    }
                },
            ),
            when(
                "role",
                "system",
                {"properties": {"content": {"anyOf": [_STRING, _blocks(TextBlockBody)]}}},
            ),
        ]
    },
    ToolChoiceBody: when("type", "tool", present("name", _STRING)),
    ThinkingConfigBody: when("type", "enabled", present("budget_tokens", {"type": "integer"})),
    OutputFormatBody: present("schema", {"type": "object"}),
}
DESCRIPTION: Final = (
    "Anthropic's Messages API, run as a chat: system and system turns become one system "
    "message, text blocks message text, tool_use and tool_result blocks tool calls and their "
    "results. Every field Anthropic defines is listed; what Claude Code sends and this server "
    "cannot change (thinking, output_config.effort, context_management, cache_control, "
    "metadata) is accepted; images, documents and MCP servers are a 400 naming the field. "
    "Fields nobody defines are ignored."
)


def example_body(model: str | None) -> JSON:
    return {
        "model": model or "MODEL",
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "Say hello."}],
    }


def _content_block() -> JSON:
    text = object_schema({"type": {"const": "text"}, "text": _STRING})
    thinking = object_schema(
        {"type": {"const": "thinking"}, "thinking": _STRING, "signature": _STRING}
    )
    tool_use = object_schema(
        {
            "type": {"const": "tool_use"},
            "id": {"type": "string", "pattern": "^toolu_"},
            "name": _STRING,
            "input": {"type": "object"},
        }
    )
    return {"oneOf": [text, thinking, tool_use]}


def _usage() -> JSON:
    return object_schema(
        {
            "input_tokens": _COUNT,
            "output_tokens": _COUNT,
            "cache_read_input_tokens": {**_COUNT, "description": "held by the prefix cache"},
            "cache_creation_input_tokens": {"const": 0},
        }
    )


def _message() -> JSON:
    return object_schema(
        {
            "id": {"type": "string", "pattern": MESSAGE_ID},
            "type": {"const": "message"},
            "role": {"const": "assistant"},
            "model": _STRING,
            "content": {"type": "array", "items": {"$ref": REF + "ContentBlock"}},
            "stop_reason": {
                "enum": ["end_turn", "max_tokens", "stop_sequence", "tool_use", None],
                "description": "null only in a stream's message_start",
            },
            "stop_sequence": {"type": ["string", "null"]},
            "usage": {"$ref": REF + "MessagesUsage"},
        }
    )


def _error() -> JSON:
    error = {
        "type": "object",
        "properties": {"type": {"enum": sorted(set(ERROR_TYPES.values()))}, "message": _STRING},
        "required": ["type", "message"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"type": {"const": "error"}, "error": error},
        "required": ["type", "error"],
        "additionalProperties": False,
    }


_EVENT_TYPES: Final = (
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "error",
)


def _stream_event() -> JSON:
    delta = {
        "type": "object",
        "properties": {
            "type": {
                "enum": ["text_delta", "thinking_delta", "signature_delta", "input_json_delta"]
            },
            "text": _STRING,
            "thinking": _STRING,
            "signature": _STRING,
            "partial_json": _STRING,
            "stop_reason": {"enum": ["end_turn", "max_tokens", "stop_sequence", "tool_use"]},
            "stop_sequence": {"type": ["string", "null"]},
        },
    }
    return {
        "type": "object",
        "description": "one Messages stream event; a block's events carry its index",
        "properties": {
            "type": {"enum": list(_EVENT_TYPES)},
            "message": {"$ref": REF + "Message"},
            "index": _COUNT,
            "content_block": {"$ref": REF + "ContentBlock"},
            "delta": delta,
            "usage": {"$ref": REF + "MessagesUsage"},
            "error": _error()["properties"]["error"],
        },
        "required": ["type"],
    }


def response_schemas() -> dict[str, JSON]:
    return {
        "Message": _message(),
        "ContentBlock": _content_block(),
        "MessagesUsage": _usage(),
        "MessageStreamEvent": _stream_event(),
        "MessageEvent": sse_event(_EVENT_TYPES, "MessageStreamEvent"),
        "MessageTokensCount": object_schema({"input_tokens": _COUNT}),
        "MessagesError": _error(),
    }


def _json(ref: str) -> JSON:
    return {"application/json": {"schema": {"$ref": REF + ref}}}


def paths(error_why: dict[int, str], security: list[JSON]) -> JSON:
    """``/v1/messages`` and its ``count_tokens``, with errors in Anthropic's shape."""

    def errors(*statuses: int) -> JSON:
        return {
            str(status): {"description": error_why[status], "content": _json("MessagesError")}
            for status in statuses
        }

    def operation(summary: str, request: str, ok: JSON, statuses: tuple[int, ...]) -> JSON:
        return {
            "summary": summary,
            "operationId": summary.lower().replace(" ", "_"),
            "description": "anthropic-version and anthropic-beta headers are accepted and "
            "ignored, as is ?beta=true",
            "requestBody": {"required": True, "content": _json(request)},
            "responses": {"200": ok, **errors(*statuses)},
            "security": security,
        }

    message_ok = {
        "description": "a Message, or its stream's named server-sent events if stream is true",
        "content": {
            **_json("Message"),
            "text/event-stream": {"schema": {"$ref": REF + "MessageEvent"}},
        },
    }
    count_ok = {"description": "the prompt's tokens", "content": _json("MessageTokensCount")}
    return {
        "/v1/messages": {
            "post": operation(
                "Create message",
                "MessagesBody",
                message_ok,
                (400, 401, 403, 404, 413, 415, 429, 500, 503),
            )
        },
        "/v1/messages/count_tokens": {
            "post": operation(
                "Count message tokens",
                "CountTokensBody",
                count_ok,
                (400, 401, 403, 404, 413, 415, 500, 503),
            )
        },
    }
