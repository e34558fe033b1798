"""A Responses request's ``input`` → chat messages.

Items are told apart by ``type`` here, one item at a time, so that an error names the item
(``input[2].call_id``). Messages, function calls and their outputs become chat messages;
reasoning items are accepted and left out of the prompt.
"""

from __future__ import annotations

from typing import Any, Final

import attrs
from returns.iterables import Fold
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.domain.messages import (
    AssistantMessage,
    DeveloperMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from mlxfn.wire.chat_messages import text_of
from mlxfn.wire.converter import structured_at
from mlxfn.wire.responses_api_bodies import (
    FunctionCallItemBody,
    FunctionCallOutputItemBody,
    InputContent,
    MessageItemBody,
    ReasoningItemBody,
)

_MESSAGE_ROLES: Final = ("user", "system", "developer", "assistant")


def refine_input(
    raw: str | tuple[dict[str, Any], ...] | None,
) -> Result[tuple[Message, ...], ApiError]:
    """A string is one user message; items become messages in order, consecutive function
    calls (and the assistant text before them) one assistant turn."""
    if raw is None:
        return Success(())
    if isinstance(raw, str):
        return Success((UserMessage(raw),))

    def joined(items: tuple[Message | None, ...]) -> tuple[Message, ...]:
        messages: list[Message] = []
        for message in items:
            if message is not None:  # an item the prompt leaves out
                _append(messages, message)
        return tuple(messages)

    items = (_refine_item(item, f"input[{i}]") for i, item in enumerate(raw))
    return Fold.collect(items, Success(())).map(joined)


def _append(messages: list[Message], message: Message) -> None:
    """A function call joins the assistant turn it follows: chat holds text and calls in one."""
    last = messages[-1] if messages else None
    match message, last:
        case AssistantMessage(content=None, tool_calls=calls), AssistantMessage() as turn:
            messages[-1] = attrs.evolve(turn, tool_calls=(*turn.tool_calls, *calls))
        case _:
            messages.append(message)


def _refine_item(item: dict[str, Any], param: str) -> Result[Message | None, ApiError]:
    kind = item.get("type")
    if kind is None or kind == "message":
        return structured_at(item, MessageItemBody, param).bind(lambda m: _message(m, param))
    if kind == "function_call":
        return structured_at(item, FunctionCallItemBody, param).map(_function_call)
    if kind == "function_call_output":
        return structured_at(item, FunctionCallOutputItemBody, param).bind(
            lambda out: _text_of(out.output, f"{param}.output").map(
                lambda text: ToolMessage(text, out.call_id)
            )
        )
    if kind == "reasoning":
        return structured_at(item, ReasoningItemBody, param).map(lambda _: None)
    return Failure(
        InvalidRequest(
            f"input item type {kind!r} is not supported; this server accepts message, "
            "function_call, function_call_output and reasoning items",
            param=f"{param}.type",
        )
    )


def _function_call(body: FunctionCallItemBody) -> Message:
    return AssistantMessage(None, (ToolCall(body.call_id, body.name, body.arguments),))


def _message(body: MessageItemBody, param: str) -> Result[Message | None, ApiError]:
    text = _text_of(body.content, f"{param}.content")
    match body.role:
        case "user":
            return text.map(UserMessage)
        case "system":
            return text.map(SystemMessage)
        case "developer":
            return text.map(DeveloperMessage)
        case "assistant":
            return text.map(AssistantMessage)
        case other:
            roles = ", ".join(_MESSAGE_ROLES)
            return Failure(
                InvalidRequest(f"role must be one of {roles}; got {other!r}", param=f"{param}.role")
            )


def _text_of(content: InputContent, param: str) -> Result[str, ApiError]:
    """String-or-parts content as one string; only text parts are accepted."""
    return text_of(
        content,
        param,
        accepted=("input_text", "output_text", "refusal"),
        accepts="input_text, output_text and refusal parts only",
    )
