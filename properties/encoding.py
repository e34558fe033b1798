"""Domain requests → the OpenAI JSON a client would send, in the several spellings clients use."""

from __future__ import annotations

from typing import Any

import attrs

from mlxfn.domain.messages import ROLE_OF, AssistantMessage, Message, ToolMessage
from mlxfn.domain.request import ChatRequest

JSON = dict[str, Any]


@attrs.frozen(kw_only=True)
class Spelling:
    """Equivalent ways to write the same request, each of which must parse to the same value."""

    content_as_parts: bool = False  # "hi" or [{"type": "text", "text": "h"}, {..."i"}]
    explicit_nulls: bool = False  # a None field as null, or left out
    stop_as_string: bool = False  # one stop as "END" rather than ["END"]
    legacy_max_tokens: bool = False  # max_tokens rather than max_completion_tokens


def _content(text: str, spelling: Spelling) -> str | list[JSON]:
    if not spelling.content_as_parts:
        return text
    half = len(text) // 2
    return [{"type": "text", "text": part} for part in (text[:half], text[half:]) if part]


def encode_message(message: Message, spelling: Spelling) -> JSON:
    out: JSON = {"role": ROLE_OF[type(message)]}
    if message.content is not None:
        out["content"] = _content(message.content, spelling)
    elif spelling.explicit_nulls:
        out["content"] = None
    if isinstance(message, AssistantMessage) and message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if isinstance(message, ToolMessage):
        out["tool_call_id"] = message.tool_call_id
    elif message.name is not None or spelling.explicit_nulls:
        out["name"] = message.name
    return out


def encode_chat_request(request: ChatRequest, spelling: Spelling = Spelling()) -> JSON:
    """The body a client sends for ``request``; parse_chat_request must give ``request`` back."""
    sampling = request.sampling
    optional: JSON = {
        "top_k": sampling.top_k and sampling.top_k.value,
        "min_p": sampling.min_p and sampling.min_p.value,
        "seed": sampling.seed and sampling.seed.value,
        "user": request.user,
        "stream_options": {"include_usage": True} if request.include_usage else None,
    }
    if request.max_tokens is not None:
        key = "max_tokens" if spelling.legacy_max_tokens else "max_completion_tokens"
        optional[key] = request.max_tokens.value
    if request.stop is not None:
        sequences = request.stop.sequences
        one = spelling.stop_as_string and len(sequences) == 1
        optional["stop"] = sequences[0] if one else list(sequences)
    body: JSON = {
        "model": request.model.value,
        "messages": [encode_message(m, spelling) for m in request.conversation.messages],
        "temperature": sampling.temperature.value,
        "top_p": sampling.top_p.value,
        "stream": request.stream,
    }
    body.update(
        (key, value)
        for key, value in optional.items()
        if value is not None or spelling.explicit_nulls
    )
    return body
