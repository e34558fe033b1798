"""What the engine reports about one generation, and what a finished generation is."""

from __future__ import annotations

from typing import Literal

import attrs

from mlxfn.domain.errors import GenerationError

FinishReason = Literal["stop", "length"]


@attrs.frozen
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0  # prompt tokens whose KV state came from the prefix cache

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@attrs.frozen
class Delta:
    """New output text, already cleared of any stop string."""

    text: str


@attrs.frozen
class Finished:
    reason: FinishReason
    usage: Usage


@attrs.frozen
class Failed:
    error: GenerationError


Event = Delta | Finished | Failed


def is_final(event: Event) -> bool:
    """Whether the engine sends nothing more after this event."""
    return not isinstance(event, Delta)


@attrs.frozen(kw_only=True)
class ResponseMeta:
    """The identity of one response, repeated in every stream chunk."""

    id: str
    created: int
    model: str


@attrs.frozen(kw_only=True)
class Completion:
    """A whole chat completion, the non-streaming answer."""

    meta: ResponseMeta
    content: str
    finish_reason: FinishReason
    usage: Usage
