"""A Messages request's ``system`` and ``messages`` → the domain conversation.

Content blocks are told apart by ``type`` here, one at a time, so that an error names the block
(``messages[2].content[0].type``). Text blocks become message text, ``tool_use`` blocks an
assistant turn's calls, ``tool_result`` blocks tool messages; thinking blocks are accepted and
left out of the prompt. The top-level ``system`` and any message of role ``system`` (Claude
Code sends one) become one leading system message, since many chat templates refuse a system
message anywhere but first.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Final

import orjson
from returns.iterables import Fold
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.domain.messages import (
    AssistantMessage,
    Conversation,
    Message,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from mlxfn.wire.converter import structured_at
from mlxfn.wire.messages_api_bodies import (
    BlockContent,
    MessageParamBody,
    TextBlockBody,
    ThinkingBlockBody,
    ToolResultBlockBody,
    ToolUseBlockBody,
)

USER_BLOCKS: Final = ("text", "tool_result")
ASSISTANT_BLOCKS: Final = ("text", "tool_use", "thinking", "redacted_thinking")


def refine_conversation(
    system: str | tuple[TextBlockBody, ...] | None, bodies: tuple[MessageParamBody, ...]
) -> Result[Conversation, ApiError]:
    """``system`` and ``messages`` → the conversation: every system text in one leading
    system message, then the turns in order."""
    if not bodies:
        return Failure(InvalidRequest("messages must hold at least one message", param="messages"))

    def join(groups: tuple[tuple[Message, ...], ...]) -> Conversation:
        messages = [message for group in groups for message in group]
        systems = [] if system is None else [_system_text(system)]
        systems += [m.content for m in messages if isinstance(m, SystemMessage)]
        turns = [m for m in messages if not isinstance(m, SystemMessage)]
        head = (SystemMessage("\n\n".join(systems)),) if systems else ()
        return Conversation((*head, *turns))

    refined = (_refine_message(body, f"messages[{i}]") for i, body in enumerate(bodies))
    return Fold.collect(refined, Success(())).map(join)


def _system_text(system: str | tuple[TextBlockBody, ...]) -> str:
    return system if isinstance(system, str) else "\n\n".join(block.text for block in system)


def _refine_message(body: MessageParamBody, param: str) -> Result[tuple[Message, ...], ApiError]:
    content = f"{param}.content"
    match body.role:
        case "user":
            return _user_turn(body.content, content)
        case "assistant":
            return _assistant_turn(body.content, content)
        case "system":  # what Claude Code sends inside messages
            return _text_blocks(body.content, content).map(lambda text: (SystemMessage(text),))
        case other:
            return Failure(
                InvalidRequest(
                    f"role must be 'user' or 'assistant'; got {other!r}", param=f"{param}.role"
                )
            )


def _unsupported_block(kind: object, param: str, accepted: tuple[str, ...]) -> ApiError:
    return InvalidRequest(
        f"content block type {kind!r} is not supported here; this server accepts "
        f"{', '.join(accepted)} blocks (it reads no images or documents)",
        param=f"{param}.type",
    )


def _user_turn(content: BlockContent, param: str) -> Result[tuple[Message, ...], ApiError]:
    """Text blocks become user messages, tool results tool messages, in the order sent."""
    if isinstance(content, str):
        return Success((UserMessage(content),))
    messages: list[Message] = []
    texts: list[str] = []
    for index, block in enumerate(content):
        where = f"{param}[{index}]"
        kind = block.get("type")
        if kind == "text":
            text = structured_at(block, TextBlockBody, where)
            if isinstance(text, Failure):
                return Failure(text.failure())
            texts.append(text.unwrap().text)
        elif kind == "tool_result":
            result = structured_at(block, ToolResultBlockBody, where).bind(
                partial(_tool_result, param=where)
            )
            if isinstance(result, Failure):
                return Failure(result.failure())
            if texts:
                messages.append(UserMessage("\n".join(texts)))
                texts = []
            messages.append(result.unwrap())
        else:
            return Failure(_unsupported_block(kind, where, USER_BLOCKS))
    if texts or not messages:
        messages.append(UserMessage("\n".join(texts)))
    return Success(tuple(messages))


def _tool_result(result: ToolResultBlockBody, param: str) -> Result[Message, ApiError]:
    content = "" if result.content is None else result.content
    return _text_blocks(content, f"{param}.content").map(
        lambda text: ToolMessage(f"Error: {text}" if result.is_error else text, result.tool_use_id)
    )


def _text_blocks(content: BlockContent, param: str) -> Result[str, ApiError]:
    """String-or-blocks content as one string; only text blocks are accepted."""
    if isinstance(content, str):
        return Success(content)
    texts: list[str] = []
    for index, block in enumerate(content):
        where = f"{param}[{index}]"
        if block.get("type") != "text":
            return Failure(_unsupported_block(block.get("type"), where, ("text",)))
        text = structured_at(block, TextBlockBody, where)
        if isinstance(text, Failure):
            return Failure(text.failure())
        texts.append(text.unwrap().text)
    return Success("\n".join(texts))


def _assistant_turn(content: BlockContent, param: str) -> Result[tuple[Message, ...], ApiError]:
    """Text blocks are the turn's text, tool_use blocks its calls; thinking is left out."""
    if isinstance(content, str):
        return Success((AssistantMessage(content),))
    texts: list[str] = []
    calls: list[ToolCall] = []
    for index, block in enumerate(content):
        where = f"{param}[{index}]"
        kind = block.get("type")
        cls: type[Any]
        if kind == "text":
            cls = TextBlockBody
        elif kind == "tool_use":
            cls = ToolUseBlockBody
        elif kind in ("thinking", "redacted_thinking"):
            cls = ThinkingBlockBody
        else:
            return Failure(_unsupported_block(kind, where, ASSISTANT_BLOCKS))
        structured = structured_at(block, cls, where)
        if isinstance(structured, Failure):
            return Failure(structured.failure())
        parsed = structured.unwrap()  # a thinking block is left out
        if isinstance(parsed, TextBlockBody):
            texts.append(parsed.text)
        elif isinstance(parsed, ToolUseBlockBody):
            arguments = orjson.dumps(parsed.input).decode()
            calls.append(ToolCall(parsed.id, parsed.name, arguments))
    text = "\n".join(texts)
    return Success((AssistantMessage(text if text or not calls else None, tuple(calls)),))
