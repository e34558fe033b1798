"""What a Messages API answer holds, once the engine's output has been read.

A Messages request is a chat request in another shape (``wire/messages_api_requests.py`` makes
the ChatRequest); its answer is content blocks (thinking, text, tool_use) and a stop reason.
"""

from __future__ import annotations

from typing import Literal

import attrs

from mlxfn.domain.events import FinishReason
from mlxfn.domain.messages import ToolCall

StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use"]


@attrs.frozen
class ThinkingBlock:
    """A reasoning model's thinking."""

    thinking: str


@attrs.frozen
class TextBlock:
    text: str


@attrs.frozen
class ToolUseBlock:
    """One tool call; ``call.id`` is what a later ``tool_result`` answers."""

    call: ToolCall


ContentBlock = ThinkingBlock | TextBlock | ToolUseBlock


@attrs.frozen
class Stopped:
    """Why the answer ended, and the stop sequence that ended it (only for stop_sequence)."""

    reason: StopReason
    sequence: str | None = None


def stopped_by(
    reason: FinishReason, stop: str | None, stop_sequences: tuple[str, ...], made_calls: bool
) -> Stopped:
    """The stop reason of a generation: its cap, one of the client's stop sequences (not a
    marker the server stops at itself), its tool calls, or its own end.

    >>> stopped_by("stop", "END", ("END",), made_calls=False)
    Stopped(reason='stop_sequence', sequence='END')
    >>> stopped_by("stop", "</tool_call>", (), made_calls=True)
    Stopped(reason='tool_use', sequence=None)
    >>> stopped_by("length", None, (), made_calls=False).reason
    'max_tokens'
    """
    if reason == "length":
        return Stopped("max_tokens")
    if stop is not None and stop in stop_sequences:
        return Stopped("stop_sequence", stop)
    return Stopped("tool_use" if made_calls else "end_turn")


def content_blocks(
    reasoning: str | None, text: str, calls: tuple[ToolCall, ...]
) -> tuple[ContentBlock, ...]:
    """A read answer as content blocks: its thinking, its text (also when empty, unless it
    only called tools), then its calls.

    >>> content_blocks(None, "", ())
    (TextBlock(text=''),)
    """
    blocks: list[ContentBlock] = []
    if reasoning:
        blocks.append(ThinkingBlock(reasoning))
    if text or not calls:
        blocks.append(TextBlock(text))
    blocks.extend(ToolUseBlock(call) for call in calls)
    return tuple(blocks)
