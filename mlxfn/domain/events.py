"""What the engine reports about one generation, and what a finished generation is."""

from __future__ import annotations

from typing import Literal

import attrs

from mlxfn.domain.errors import GenerationError
from mlxfn.domain.messages import ToolCall

FinishReason = Literal["stop", "length"]
# What a response says: a generation that stopped after tool calls ended in "tool_calls".
ResponseFinishReason = Literal["stop", "length", "tool_calls"]


@attrs.frozen
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0  # prompt tokens whose KV state came from the prefix cache

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def add_choice_usage(total: Usage | None, choice: Usage) -> Usage:
    """Usage of a request with several choices of one prompt: the prompt once, and every
    choice's completion tokens summed.

    >>> add_choice_usage(Usage(5, 3, 2), Usage(5, 4, 2))
    Usage(prompt_tokens=5, completion_tokens=7, cached_tokens=2)
    """
    if total is None:
        return choice
    return attrs.evolve(total, completion_tokens=total.completion_tokens + choice.completion_tokens)


def add_prompt_usage(total: Usage | None, prompt: Usage) -> Usage:
    """Usage of a request with several prompts: each prompt's usage (its choices' already
    added up) summed, prompt tokens included.

    >>> add_prompt_usage(Usage(5, 7, 2), Usage(3, 4))
    Usage(prompt_tokens=8, completion_tokens=11, cached_tokens=2)
    """
    if total is None:
        return prompt
    return Usage(
        total.prompt_tokens + prompt.prompt_tokens,
        total.completion_tokens + prompt.completion_tokens,
        total.cached_tokens + prompt.cached_tokens,
    )


@attrs.frozen
class TokenLogprob:
    """One generated token as OpenAI reports it: its text, log-probability and UTF-8 bytes
    (a token's own bytes, which can be part of a character), and at a generated position the
    most likely tokens there (``top``, most likely first; their own ``top`` is empty)."""

    token: str
    logprob: float
    bytes: tuple[int, ...]
    top: tuple[TokenLogprob, ...] = ()


@attrs.frozen
class Delta:
    """New output text, already cleared of any stop string; ``index`` is its choice's. When
    asked for, ``logprobs`` scores the tokens whose text it completes (see ``engine/stream.py``)."""

    text: str
    logprobs: tuple[TokenLogprob, ...] = ()
    index: int = attrs.field(default=0, kw_only=True)


@attrs.frozen
class Finished:
    """One choice has ended; ``usage`` counts the prompt and this choice's tokens. ``stop`` is
    the stop string that ended it, if one did (Anthropic's stop_sequence reports it)."""

    reason: FinishReason
    usage: Usage
    index: int = attrs.field(default=0, kw_only=True)
    stop: str | None = attrs.field(default=None, kw_only=True)


@attrs.frozen
class Failed:
    error: GenerationError


Event = Delta | Finished | Failed


@attrs.frozen(kw_only=True)
class ResponseMeta:
    """The identity of one response, repeated in every stream chunk."""

    id: str
    created: int
    model: str


@attrs.frozen(kw_only=True)
class Completion:
    """One whole choice of a chat completion, the non-streaming answer (``index`` among the
    request's ``n``)."""

    meta: ResponseMeta
    content: str
    finish_reason: ResponseFinishReason
    usage: Usage
    index: int = 0
    reasoning: str | None = None  # the model's thinking, when it marks it
    tool_calls: tuple[ToolCall, ...] = ()
    logprobs: tuple[TokenLogprob, ...] | None = None  # None: not asked for


@attrs.frozen(kw_only=True)
class TextChoice:
    """One choice of a text completion (legacy ``/v1/completions``): the prompt's text when
    echoed (else empty), then the generated text; ``logprobs`` scores the generated tokens."""

    index: int
    echo: str
    text: str
    finish_reason: FinishReason
    logprobs: tuple[TokenLogprob, ...] | None = None  # None: not asked for
