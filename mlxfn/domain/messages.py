"""Chat messages as a union by role, and the non-empty conversation they form."""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class ToolCall:
    """A function call the assistant made; ``arguments`` is the JSON text the model wrote."""

    id: str
    name: str
    arguments: str


@attrs.frozen
class SystemMessage:
    content: str
    name: str | None = None


@attrs.frozen
class DeveloperMessage:
    content: str
    name: str | None = None


@attrs.frozen
class UserMessage:
    content: str
    name: str | None = None


@attrs.frozen
class AssistantMessage:
    """An earlier assistant turn: text, tool calls, or both (``content`` is None when absent)."""

    content: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    name: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.content is None and not self.tool_calls:
            raise ValueError("an assistant message needs content or tool_calls")


@attrs.frozen
class ToolMessage:
    content: str
    tool_call_id: str


Message = SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage

ROLE_OF: dict[type[Any], str] = {
    SystemMessage: "system",
    DeveloperMessage: "developer",
    UserMessage: "user",
    AssistantMessage: "assistant",
    ToolMessage: "tool",
}


def _non_empty(_: object, attribute: attrs.Attribute[Any], value: tuple[Message, ...]) -> None:
    if not value:
        raise ValueError(f"{attribute.name} must hold at least one message")


@attrs.frozen
class Conversation:
    """A non-empty sequence of messages.

    >>> Conversation((UserMessage("hi"),)).messages[0].content
    'hi'
    """

    messages: tuple[Message, ...] = attrs.field(validator=_non_empty)

    @property
    def ends_with_prefill(self) -> bool:
        """Whether the last message is an assistant's text with no calls: the start of the
        answer, to be continued (Anthropic's prefill) rather than a finished turn.

        >>> Conversation((UserMessage("hi"), AssistantMessage('{"a":'))).ends_with_prefill
        True
        >>> Conversation((UserMessage("hi"),)).ends_with_prefill
        False
        """
        last = self.messages[-1]
        return isinstance(last, AssistantMessage) and bool(last.content) and not last.tool_calls
