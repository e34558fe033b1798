"""Domain values → the Messages API's JSON: the Message object, its content blocks, stream
events, token counts, and Anthropic's error body."""

from __future__ import annotations

from typing import Any, Final, assert_never

import orjson

from mlxfn.domain.errors import (
    ApiError,
    ContextLengthExceeded,
    TimedOut,
    Unauthorized,
    error_status,
)
from mlxfn.domain.events import Usage
from mlxfn.domain.messages_api import ContentBlock, Stopped, TextBlock, ThinkingBlock, ToolUseBlock
from mlxfn.wire.responses import render_error

JSON = dict[str, Any]

# Anthropic's error types by HTTP status; a 415 or 405 is the request's fault as any 400.
ERROR_TYPES: Final[dict[int, str]] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    415: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
}


def error_type(status: int) -> str:
    """Anthropic's error type for a status (any other 4xx: the request's, 5xx: ours).

    >>> error_type(401), error_type(418), error_type(502)
    ('authentication_error', 'invalid_request_error', 'api_error')
    """
    return ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")


def render_messages_error(err: ApiError) -> JSON:
    """Anthropic's error body; the field at fault is named in the message, which has no
    ``param`` of its own.

    >>> from mlxfn.domain.errors import InvalidRequest
    >>> render_messages_error(InvalidRequest("must be 1 or more", param="max_tokens"))["error"]
    {'type': 'invalid_request_error', 'message': 'max_tokens: must be 1 or more'}
    >>> render_messages_error(TimedOut("total", 30.0))["error"]["type"]
    'timeout_error'
    """
    # A deadline passed is Anthropic's timeout_error, not an overload to retry at once.
    kind = "timeout_error" if isinstance(err, TimedOut) else error_type(error_status(err))
    return {"type": "error", "error": {"type": kind, "message": _message(err)}}


def _message(err: ApiError) -> str:
    match err:
        case Unauthorized(given=True):
            return "invalid x-api-key"
        case Unauthorized():
            return (
                "this server needs an API key: send it as 'x-api-key: KEY' or "
                "'Authorization: Bearer KEY'"
            )
        case ContextLengthExceeded(prompt_tokens=prompt, max_tokens=wanted, limit=limit):
            # the words clients such as Claude Code look for before they compact a conversation
            return (
                f"prompt is too long: {prompt + wanted} tokens > {limit} maximum "
                f"({prompt} in the messages, {wanted} for max_tokens)"
            )
        case _:
            error = render_error(err)["error"]
            message, param = str(error["message"]), error["param"]
            return message if param is None or param in message else f"{param}: {message}"


def tool_use_id(call_id: str) -> str:
    """A tool call's id as Anthropic spells one.

    >>> tool_use_id("call_ab12"), tool_use_id("toolu_x")
    ('toolu_ab12', 'toolu_x')
    """
    return call_id if call_id.startswith("toolu_") else "toolu_" + call_id.removeprefix("call_")


def render_usage(usage: Usage) -> JSON:
    """Anthropic's usage: the prompt's tokens the prefix cache held are read from the cache,
    the rest are input; the cache is written without charge, so nothing counts as creation.

    >>> render_usage(Usage(10, 3, 4))  # doctest: +NORMALIZE_WHITESPACE
    {'input_tokens': 6, 'output_tokens': 3, 'cache_read_input_tokens': 4,
     'cache_creation_input_tokens': 0}
    """
    return {
        "input_tokens": usage.prompt_tokens - usage.cached_tokens,
        "output_tokens": usage.completion_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "cache_creation_input_tokens": 0,
    }


def render_block(block: ContentBlock, *, started: bool = False) -> JSON:
    """One content block; a stream's ``content_block_start`` has it empty (``started``)."""
    match block:
        case ThinkingBlock(thinking=thinking):
            return {"type": "thinking", "thinking": "" if started else thinking, "signature": ""}
        case TextBlock(text=text):
            return {"type": "text", "text": "" if started else text}
        case ToolUseBlock(call=call):
            arguments = {} if started else _arguments(call.arguments)
            return {
                "type": "tool_use",
                "id": tool_use_id(call.id),
                "name": call.name,
                "input": arguments,
            }
        case _:
            assert_never(block)


def _arguments(text: str) -> JSON:
    """A call's arguments as the object Anthropic's ``input`` is (the readers give JSON text
    of an object; anything else is kept whole under one key rather than lost)."""
    try:
        loaded = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"arguments": text}
    return loaded if isinstance(loaded, dict) else {"arguments": loaded}


def render_message(
    message_id: str,
    model: str,
    blocks: tuple[ContentBlock, ...],
    stopped: Stopped | None,
    usage: JSON,
) -> JSON:
    """The Message object: whole, or (with no blocks and no stop yet) a stream's first."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [render_block(block) for block in blocks],
        "stop_reason": None if stopped is None else stopped.reason,
        "stop_sequence": None if stopped is None else stopped.sequence,
        "usage": usage,
    }


def render_token_count(count: int) -> JSON:
    return {"input_tokens": count}


def encode_stream_event(event: JSON) -> bytes:
    """One Messages stream event: its type as the SSE ``event`` and the whole as ``data``.

    >>> encode_stream_event({"type": "message_stop"})
    b'event: message_stop\\ndata: {"type":"message_stop"}\\n\\n'
    """
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"
