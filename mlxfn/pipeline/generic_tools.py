"""Tools on a model whose chat template has no tool-call format: mlxfn's generic format.

mlx-lm knows a model's call markup from its chat template; a template that shows none
(SmolLM2's, a plain ChatML one) would otherwise leave tools unusable. For those, the tools
are written into the system prompt as text, in the Hermes / Qwen2.5 wording that many small
instruction-tuned models have seen, and the model is asked to answer a call as

    <tool_call>
    {"name": "get_weather", "arguments": {"city": "Oslo"}}
    </tool_call>

That is exactly the markup mlx-lm's ``json_tools`` parser reads, so the calls are read, streamed
and forced (``tool_choice`` required or named, by the same grammar) as a Hermes model's are.
Earlier turns are written as text too, since such a template cannot render them: an
assistant's calls as the same markup in its content, and tool results as ``<tool_response>``
blocks in a user turn (the one role every template accepts).
"""

from __future__ import annotations

import json
from typing import Any, Final, Literal

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
from mlxfn.domain.tools import FunctionTool
from mlxfn.pipeline.markup import Markers

# "native": the template renders the tools and mlx-lm parses the model's own markup;
# "generic": mlxfn writes the tools into the prompt and reads GENERIC_CALLS back.
ToolFormat = Literal["native", "generic"]

GENERIC_CALLS: Final = Markers("<tool_call>", "</tool_call>")
RESPONSE_START: Final = "<tool_response>"
RESPONSE_END: Final = "</tool_response>"

_SECTION_HEAD: Final = (
    "# Tools\n\n"
    "You may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
)
_SECTION_TAIL: Final = (
    "\n</tools>\n\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n"
    '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>\n\n'
    "The result of each call comes back to you within <tool_response></tool_response> XML tags."
)


def tool_format_of(tokenizer: Any) -> ToolFormat:
    """Native where mlx-lm found a tool-call format for the model (its tokenizer wrapper's
    ``has_tool_calling``); generic for every other tokenizer."""
    return "native" if getattr(tokenizer, "has_tool_calling", False) else "generic"


def tool_line(tool: FunctionTool) -> str:
    """One tool as the prompt lists it: a JSON object on one line.

    >>> tool_line(FunctionTool(name="now"))
    '{"name": "now", "description": "", "parameters": {"type": "object", "properties": {}}}'
    """
    return json.dumps(
        {
            "name": tool.name,
            "description": tool.description or "",
            "parameters": tool.parameters or {"type": "object", "properties": {}},
        },
        ensure_ascii=False,
    )


def tools_section(tools: tuple[FunctionTool, ...]) -> str:
    """The system prompt's section that offers the tools and says how to call them."""
    return _SECTION_HEAD + "\n".join(tool_line(t) for t in tools) + _SECTION_TAIL


def call_markup(call: ToolCall) -> str:
    """One call as the model is asked to write it (and as the forced-call grammar writes it):
    the arguments are the JSON text as the model or client gave it.

    >>> print(call_markup(ToolCall("c1", "f", '{"x": 1}')))
    <tool_call>
    {"name": "f", "arguments": {"x": 1}}
    </tool_call>
    """
    arguments = call.arguments.strip() or "{}"
    body = f'{{"name": {json.dumps(call.name)}, "arguments": {arguments}}}'
    return f"{GENERIC_CALLS.start}\n{body}\n{GENERIC_CALLS.end}"


def response_markup(message: ToolMessage) -> str:
    return f"{RESPONSE_START}\n{message.content}\n{RESPONSE_END}"


def _assistant_text(message: AssistantMessage) -> AssistantMessage:
    if not message.tool_calls:
        return message
    calls = "\n".join(call_markup(c) for c in message.tool_calls)
    content = f"{message.content}\n{calls}" if message.content else calls
    return AssistantMessage(content, name=message.name)


def _with_section(messages: list[Message], tools: tuple[FunctionTool, ...]) -> list[Message]:
    if not tools:
        return messages
    section = tools_section(tools)
    first = messages[0] if messages else None
    # Into the first system (or developer) turn, as native templates place their tools, so a
    # template that allows one system turn only still renders.
    if isinstance(first, SystemMessage | DeveloperMessage):
        content = f"{first.content}\n\n{section}" if first.content else section
        return [type(first)(content, first.name), *messages[1:]]
    return [SystemMessage(section), *messages]


def generic_conversation(
    conversation: Conversation, tools: tuple[FunctionTool, ...]
) -> Conversation:
    """The conversation as a template without tool support can render it: the tools section
    in the system turn, calls as markup in the assistant's text, and each run of tool results
    as one user turn of ``<tool_response>`` blocks (templates that insist on alternating
    user and assistant turns get one turn per run).

    >>> conv = Conversation((
    ...     UserMessage("hi"),
    ...     AssistantMessage(None, (ToolCall("c1", "f", "{}"),)),
    ...     ToolMessage("42", "c1"),
    ... ))
    >>> [type(m).__name__ for m in generic_conversation(conv, ()).messages]
    ['UserMessage', 'AssistantMessage', 'UserMessage']
    """
    out: list[Message] = []
    results: list[str] = []
    for message in conversation.messages:
        if isinstance(message, ToolMessage):
            results.append(response_markup(message))
            continue
        if results:
            out.append(UserMessage("\n".join(results)))
            results = []
        out.append(_assistant_text(message) if isinstance(message, AssistantMessage) else message)
    if results:
        out.append(UserMessage("\n".join(results)))
    return Conversation(tuple(_with_section(out, tools)))


def parse_generic_call(text: str, tools: object = None) -> Any:
    """A call block's body, read as mlx-lm's ``json_tools`` parser reads it (imported here
    as its one line, since the pure pipeline loads nothing of mlx-lm)."""
    return json.loads(text.strip())
