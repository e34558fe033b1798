"""Chat's ``messages`` → the domain conversation: each message by its role, its content as text
(only text and refusal parts), an assistant turn's tool calls."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from returns.iterables import Fold
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.domain.messages import (
    AssistantMessage,
    Conversation,
    DeveloperMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from mlxfn.wire.bodies import (
    AssistantBody,
    Content,
    DeveloperBody,
    FunctionBody,
    MessageBody,
    SystemBody,
    ToolBody,
    UserBody,
)


def refine_messages(bodies: tuple[MessageBody, ...]) -> Result[Conversation, ApiError]:
    if not bodies:
        return Failure(InvalidRequest("messages must hold at least one message", param="messages"))
    messages = (refine_message(body, f"messages[{i}]") for i, body in enumerate(bodies))
    return Fold.collect(messages, Success(())).map(Conversation)


def _text_of(content: Content, param: str) -> Result[str, ApiError]:
    """Normalise string-or-parts content to one string; only text parts are accepted."""
    return text_of(
        content, f"{param}.content", accepted=("text", "refusal"), accepts="text parts only"
    )


class TextPart(Protocol):
    """A content part of any surface: its type, and its text in ``text`` or ``refusal``."""

    @property
    def type(self) -> str: ...
    @property
    def text(self) -> str | None: ...
    @property
    def refusal(self) -> str | None: ...


def text_of(
    content: str | Sequence[TextPart], param: str, *, accepted: tuple[str, ...], accepts: str
) -> Result[str, ApiError]:
    """String-or-parts content as one string: each part (at ``param[i]``) of an ``accepted``
    type, a refusal's text in its ``refusal``, any other's in its ``text``; ``accepts`` says
    in the error which parts this surface takes."""
    if isinstance(content, str):
        return Success(content)
    texts: list[str] = []
    for index, part in enumerate(content):
        where = f"{param}[{index}]"
        if part.type not in accepted:
            return Failure(
                InvalidRequest(
                    f"content part type {part.type!r} is not supported; this server "
                    f"accepts {accepts}",
                    param=f"{where}.type",
                )
            )
        field = "refusal" if part.type == "refusal" else "text"
        text = part.refusal if part.type == "refusal" else part.text
        if text is None:  # the field a part of this type carries its text in
            return Failure(
                InvalidRequest(f"a {part.type} part needs its {field}", param=f"{where}.{field}")
            )
        texts.append(text)
    return Success("".join(texts))


def refine_message(body: MessageBody, param: str) -> Result[Message, ApiError]:
    match body:
        case SystemBody(content=content, name=name):
            return _text_of(content, param).map(lambda t: SystemMessage(t, name))
        case DeveloperBody(content=content, name=name):
            return _text_of(content, param).map(lambda t: DeveloperMessage(t, name))
        case UserBody(content=content, name=name):
            return _text_of(content, param).map(lambda t: UserMessage(t, name))
        case ToolBody(content=content, tool_call_id=call_id):
            return _text_of(content, param).map(lambda t: ToolMessage(t, call_id))
        case AssistantBody():
            return _refine_assistant(body, param)
        case FunctionBody():
            return Failure(
                InvalidRequest(
                    "the function role is deprecated and not supported; use tool messages",
                    param=f"{param}.role",
                )
            )


def _refine_assistant(body: AssistantBody, param: str) -> Result[Message, ApiError]:
    if body.audio is not None or body.function_call is not None:
        field = "audio" if body.audio is not None else "function_call"
        return Failure(InvalidRequest(f"{field} is not supported", param=f"{param}.{field}"))
    calls = tuple(
        ToolCall(call.id, call.function.name, call.function.arguments)
        for call in body.tool_calls or ()
    )
    if body.content is None and not calls and body.refusal is None:
        return Failure(
            InvalidRequest(
                "an assistant message needs content or tool_calls", param=f"{param}.content"
            )
        )
    content = body.content if body.content is not None else body.refusal
    if content is None:
        return Success(AssistantMessage(None, calls, body.name))
    return _text_of(content, param).map(lambda t: AssistantMessage(t, calls, body.name))
