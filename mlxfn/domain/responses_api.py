"""A Responses API request once it has crossed the anti-corruption layer.

It is a chat request in another shape: ``instructions`` and ``input`` become the messages of
a ``ChatRequest`` (after a stored earlier turn, when ``previous_response_id`` names one), and
the engine runs it as it runs any chat.
"""

from __future__ import annotations

from typing import Literal

import attrs

from mlxfn.domain.events import ResponseFinishReason
from mlxfn.domain.messages import AssistantMessage, Message, ToolCall
from mlxfn.domain.request import SamplingParams
from mlxfn.domain.response_format import TEXT, ResponseFormat
from mlxfn.domain.tools import ToolSpec
from mlxfn.domain.values import MaxTokens, ModelName


@attrs.frozen(kw_only=True)
class ResponsesRequest:
    model: ModelName
    instructions: str | None
    input: tuple[Message, ...]  # this turn's items as messages (reasoning items left out)
    sampling: SamplingParams = attrs.field(factory=SamplingParams)
    max_output_tokens: MaxTokens | None = None
    tools: ToolSpec | None = None
    # What the client sent for tool_choice when no tools came with it (only none or auto).
    tool_choice: str = "auto"
    response_format: ResponseFormat = TEXT
    stream: bool = False
    store: bool = True  # OpenAI's default: a response can be retrieved and continued
    previous_response_id: str | None = None
    user: str | None = None
    # Repeated in the Response object as sent; a dict has no hash, so it is kept out of eq.
    metadata: dict[str, str] = attrs.field(factory=dict, eq=False, hash=False)
    # The namespace of each function offered inside one (function name → namespace name).
    namespaces: dict[str, str] = attrs.field(factory=dict, eq=False, hash=False)


@attrs.frozen
class ReasoningItem:
    """A reasoning model's thinking, as one output item."""

    id: str
    text: str


@attrs.frozen
class MessageItem:
    """The answer text, as one assistant message item with one output_text part."""

    id: str
    text: str


@attrs.frozen
class FunctionCallItem:
    """One tool call; ``call.id`` is the call_id a function_call_output answers."""

    id: str
    call: ToolCall
    namespace: str | None = None  # the namespace tool the function was offered in


OutputItem = ReasoningItem | MessageItem | FunctionCallItem
# in_progress only while a stream runs; incomplete: the output-token cap was reached.
ResponseStatus = Literal["in_progress", "completed", "incomplete", "failed"]


def status_of(reason: ResponseFinishReason) -> ResponseStatus:
    """A generation cut off at its token cap is ``incomplete``; one that ended by itself,
    ``completed``."""
    return "incomplete" if reason == "length" else "completed"


def assistant_turn(items: tuple[OutputItem, ...]) -> AssistantMessage:
    """The output items as the assistant message a later turn's prompt holds.

    >>> assistant_turn((MessageItem("msg_1", "Hi."),))
    AssistantMessage(content='Hi.', tool_calls=(), name=None)
    """
    text = "".join(item.text for item in items if isinstance(item, MessageItem))
    calls = tuple(item.call for item in items if isinstance(item, FunctionCallItem))
    return AssistantMessage(text if text or not calls else None, calls)
