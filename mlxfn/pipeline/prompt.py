"""Conversation → prompt token ids, through the model's own chat template."""

from __future__ import annotations

import json
from typing import Any, Protocol

import attrs
from jinja2 import TemplateError
from returns.result import Result, safe

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.domain.messages import (
    ROLE_OF,
    AssistantMessage,
    Conversation,
    Message,
    ToolCall,
    ToolMessage,
)
from mlxfn.domain.tools import FunctionTool
from mlxfn.pipeline.generic_tools import generic_conversation, tool_format_of


class ChatTokenizer(Protocol):
    """The part of a tokenizer the pipeline needs (mlx-lm's TokenizerWrapper has it)."""

    def apply_chat_template(self, conversation: list[dict[str, Any]], **kwargs: Any) -> Any: ...

    def encode(self, text: str, **kwargs: Any) -> list[int]: ...


@attrs.frozen
class Prompt:
    token_ids: tuple[int, ...]

    @property
    def token_count(self) -> int:
        return len(self.token_ids)


def render_template_message(message: Message) -> dict[str, Any]:
    """One domain message in the shape Hugging Face chat templates read.

    >>> from mlxfn.domain.messages import UserMessage
    >>> render_template_message(UserMessage("hi"))
    {'role': 'user', 'content': 'hi'}
    """
    out: dict[str, Any] = {"role": ROLE_OF[type(message)], "content": message.content}
    if isinstance(message, AssistantMessage) and message.tool_calls:
        out["tool_calls"] = [render_template_call(c) for c in message.tool_calls]
    if isinstance(message, ToolMessage):
        out["tool_call_id"] = message.tool_call_id
    elif message.name is not None:
        out["name"] = message.name
    return out


def render_template_call(call: ToolCall) -> dict[str, Any]:
    """A tool call as templates read it: ``arguments`` as an object where it is JSON text of
    one, since most templates write ``arguments | tojson`` (as mlx_lm.server does).

    >>> render_template_call(ToolCall("c1", "f", '{"x": 1}'))["function"]["arguments"]
    {'x': 1}
    """
    arguments: Any = call.arguments
    try:
        decoded = json.loads(call.arguments)
    except ValueError:  # not JSON: the template gets the text as the client sent it
        decoded = None
    if isinstance(decoded, dict):
        arguments = decoded
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": arguments},
    }


def render_template_tool(tool: FunctionTool) -> dict[str, Any]:
    """A tool in OpenAI's shape, which is what Hugging Face templates iterate over."""
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    function["parameters"] = tool.parameters or {"type": "object", "properties": {}}
    return {"type": "function", "function": function}


# A chat template is a program: it rejects conversations it cannot render (roles out of order,
# say) by raising. Those are the client's conversation's fault, so they become a 400.
_TEMPLATE_ERRORS = (TemplateError, ValueError, TypeError, KeyError, IndexError)


@safe(exceptions=_TEMPLATE_ERRORS)
def _apply_template(
    tokenizer: ChatTokenizer,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
    continue_final: bool = False,
    generation_prompt: bool = True,
) -> tuple[int, ...]:
    kwargs: dict[str, Any] = {"tools": tools} if tools else {}
    if continue_final:  # the last assistant turn stays open, for the model to go on with it
        kwargs["continue_final_message"] = True
    opened = generation_prompt and not continue_final
    ids = tokenizer.apply_chat_template(
        messages, add_generation_prompt=opened, tokenize=True, **kwargs
    )
    return tuple(int(i) for i in ids)


def build_prompt(
    conversation: Conversation,
    tokenizer: ChatTokenizer,
    tools: tuple[FunctionTool, ...] = (),
    *,
    continue_final: bool = False,
    generation_prompt: bool = True,
) -> Result[Prompt, ApiError]:
    """Render the conversation (and the tools offered, if any) with the chat template and
    tokenize it. A template with no tool-call format of its own is shown the tools, the
    calls and their results as text in mlxfn's generic format (``generic_tools``).
    ``continue_final``: the last (assistant) message is left open for the model to continue,
    instead of a new assistant turn after it; ``generation_prompt``: whether that new turn is
    opened at the end (only counting wants it closed)."""
    offered: list[dict[str, Any]] | None = None
    if tool_format_of(tokenizer) == "generic":
        conversation = generic_conversation(conversation, tools)
    else:
        offered = [render_template_tool(t) for t in tools] or None
    messages = [render_template_message(m) for m in conversation.messages]
    return (
        _apply_template(tokenizer, messages, offered, continue_final, generation_prompt)
        .alt(
            lambda exc: InvalidRequest(
                f"the chat template rejected the messages: {exc}", "messages"
            )
        )
        .map(Prompt)
    )


@safe(exceptions=(ValueError, TypeError))
def _encode(tokenizer: ChatTokenizer, text: str, special: bool = False) -> tuple[int, ...]:
    return tuple(tokenizer.encode(text, add_special_tokens=special))


def build_text_prompt(
    text: str, tokenizer: ChatTokenizer, *, add_special_tokens: bool = False
) -> Result[Prompt, ApiError]:
    """Tokenize plain text without a template: as it is, or with the tokenizer's own special
    tokens around it (``add_special_tokens``, a BOS for Llama-style tokenizers)."""
    return (
        _encode(tokenizer, text, add_special_tokens)
        .alt(lambda exc: InvalidRequest(f"the text could not be tokenized: {exc}", "text"))
        .map(Prompt)
    )
