"""What a client asks for, once it has crossed the anti-corruption layer."""

from __future__ import annotations

import attrs

from mlxfn.domain.messages import Conversation
from mlxfn.domain.values import MaxTokens, MinP, ModelName, Seed, Stop, Temperature, TopK, TopP

# OpenAI's documented defaults: temperature 1 and top_p 1 sample from the model unchanged.
DEFAULT_TEMPERATURE = Temperature(1.0)
DEFAULT_TOP_P = TopP(1.0)


@attrs.frozen(kw_only=True)
class SamplingParams:
    temperature: Temperature = DEFAULT_TEMPERATURE
    top_p: TopP = DEFAULT_TOP_P
    top_k: TopK | None = None
    min_p: MinP | None = None
    seed: Seed | None = None


@attrs.frozen(kw_only=True)
class ChatRequest:
    model: ModelName
    conversation: Conversation
    sampling: SamplingParams = attrs.field(factory=SamplingParams)
    max_tokens: MaxTokens | None = None
    stop: Stop | None = None
    stream: bool = False
    include_usage: bool = False
    user: str | None = None


@attrs.frozen(kw_only=True)
class TokenizeRequest:
    """Count tokens of plain text, or of a chat as the template renders it for generation."""

    model: ModelName | None
    text: str | Conversation
