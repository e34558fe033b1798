"""Domain values → the Responses API's JSON: the Response object, its items and stream events.

The Response repeats the request's settings (tools, tool_choice, text.format, sampling), as
OpenAI's does and as the SDK's Response type requires.
"""

from __future__ import annotations

from typing import Any, Literal, assert_never

import attrs
import orjson

from mlxfn.domain.errors import ApiError
from mlxfn.domain.events import Usage
from mlxfn.domain.response_format import JsonObjectFormat, JsonSchemaFormat, TextFormat
from mlxfn.domain.responses_api import (
    FunctionCallItem,
    MessageItem,
    OutputItem,
    ReasoningItem,
    ResponsesRequest,
    ResponseStatus,
)
from mlxfn.domain.tools import FunctionTool, NamedToolChoice
from mlxfn.wire.responses import render_error

JSON = dict[str, Any]
ItemStatus = Literal["in_progress", "completed", "incomplete"]


@attrs.frozen(kw_only=True)
class ResponseIdentity:
    """What names one response: its id, when it was created, the served model."""

    id: str
    created_at: int
    model: str


def render_usage(usage: Usage) -> JSON:
    """ResponseUsage: the prompt's tokens (with those the prefix cache held) and the output's.

    >>> render_usage(Usage(10, 3, 4))["input_tokens_details"]["cached_tokens"]
    4
    """
    return {
        "input_tokens": usage.prompt_tokens,
        # what the prefix cache keeps of a prompt is not counted per request
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": usage.completion_tokens,
        # the engine counts tokens, not which of them were thinking
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.total_tokens,
    }


def render_output_text(text: str) -> JSON:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def render_reasoning_text(text: str) -> JSON:
    return {"type": "reasoning_text", "text": text}


def render_item(item: OutputItem, status: ItemStatus = "completed") -> JSON:
    """One output item; ``in_progress`` ones (in a stream's ``added`` event) have no text yet."""
    done = status != "in_progress"
    match item:
        case ReasoningItem(id=item_id, text=text):
            return {
                "id": item_id,
                "type": "reasoning",
                "summary": [],
                "content": [render_reasoning_text(text)] if done else [],
                "status": status,
            }
        case MessageItem(id=item_id, text=text):
            return {
                "id": item_id,
                "type": "message",
                "role": "assistant",
                "status": status,
                "content": [render_output_text(text)] if done else [],
            }
        case FunctionCallItem(id=item_id, call=call, namespace=namespace):
            rendered: JSON = {
                "id": item_id,
                "type": "function_call",
                "call_id": call.id,
                "name": call.name,
                "arguments": call.arguments if done else "",
                "status": status,
            }
            if namespace is not None:
                rendered["namespace"] = namespace
            return rendered
        case _:
            assert_never(item)


def render_tool(tool: FunctionTool) -> JSON:
    return {
        "type": "function",
        "name": tool.name,
        "description": tool.description,
        "parameters": tool.parameters,
        "strict": tool.strict,
    }


def render_text_config(request: ResponsesRequest) -> JSON:
    match request.response_format:
        case TextFormat():
            text_format: JSON = {"type": "text"}
        case JsonObjectFormat():
            text_format = {"type": "json_object"}
        case JsonSchemaFormat(name=name, description=description, strict=strict) as schema:
            text_format = {
                "type": "json_schema",
                "name": name,
                "schema": orjson.loads(schema.schema),
                "description": description,
                "strict": strict,
            }
        case _:
            assert_never(request.response_format)
    return {"format": text_format}


def _tool_choice(request: ResponsesRequest) -> str | JSON:
    if request.tools is None:
        return request.tool_choice
    match request.tools.choice:
        case NamedToolChoice(name=name):
            return {"type": "function", "name": name}
        case mode:
            return mode


def item_statuses(status: ResponseStatus, output: tuple[OutputItem, ...]) -> list[ItemStatus]:
    """Each item's status in an ended response: the last text item (message or reasoning) of
    one a token cap cut short is ``incomplete``, as OpenAI marks it — a cut call comes back
    as text, so the cut is always in text; whole calls and every other item are ``completed``.

    >>> from mlxfn.domain.messages import ToolCall
    >>> text = MessageItem("msg_1", "Once upon a")
    >>> call = FunctionCallItem("fc_1", ToolCall("call_1", "f", "{}"))
    >>> item_statuses("incomplete", (text, call)), item_statuses("completed", (text,))
    (['incomplete', 'completed'], ['completed'])
    """
    texts = [i for i, item in enumerate(output) if not isinstance(item, FunctionCallItem)]
    cut = texts[-1] if status == "incomplete" and texts else None
    return ["incomplete" if i == cut else "completed" for i in range(len(output))]


def render_response(
    identity: ResponseIdentity,
    request: ResponsesRequest,
    *,
    status: ResponseStatus,
    output: tuple[OutputItem, ...] = (),
    usage: Usage | None = None,
    error: ApiError | None = None,
) -> JSON:
    """The Response object: at creation (in_progress, no output), and when it has ended."""
    incomplete = {"reason": "max_output_tokens"} if status == "incomplete" else None
    tools = request.tools
    response: JSON = {
        "id": identity.id,
        "object": "response",
        "created_at": identity.created_at,
        "status": status,
        "error": None if error is None else _response_error(error),
        "incomplete_details": incomplete,
        "instructions": request.instructions,
        "max_output_tokens": (
            None if request.max_output_tokens is None else request.max_output_tokens.value
        ),
        "model": identity.model,
        "output": [
            render_item(item, item_status)
            for item, item_status in zip(output, item_statuses(status, output), strict=True)
        ],
        "parallel_tool_calls": tools is None or tools.parallel,
        "previous_response_id": request.previous_response_id,
        "reasoning": {"effort": None, "summary": None},
        "store": request.store,
        "temperature": request.sampling.temperature.value,
        "text": render_text_config(request),
        "tool_choice": _tool_choice(request),
        "tools": [] if tools is None else [render_tool(t) for t in tools.tools],
        "top_p": request.sampling.top_p.value,
        "truncation": "disabled",
        "usage": None if usage is None else render_usage(usage),
        "metadata": request.metadata,
    }
    if request.user is not None:  # OpenAI's schema has no null user
        response["user"] = request.user
    return response


def _response_error(error: ApiError) -> JSON:
    """A failed response's ``error``: OpenAI's codes for it are few, all ours are server_error."""
    return {"code": "server_error", "message": render_error(error)["error"]["message"]}


def render_deleted(response_id: str) -> JSON:
    return {"id": response_id, "object": "response", "deleted": True}


def encode_stream_event(event: JSON) -> bytes:
    """One Responses stream event: its type as the SSE ``event`` and the whole as ``data``.

    >>> encode_stream_event({"type": "response.created", "sequence_number": 0})
    b'event: response.created\\ndata: {"type":"response.created","sequence_number":0}\\n\\n'
    """
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"
