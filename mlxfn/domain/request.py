"""What a client asks for, once it has crossed the anti-corruption layer."""

from __future__ import annotations

import attrs

from mlxfn.domain.messages import Conversation
from mlxfn.domain.response_format import TEXT, ResponseFormat
from mlxfn.domain.tools import ToolSpec
from mlxfn.domain.values import (
    INT64_MAX,
    ChoiceCount,
    LogitBias,
    MaxTokens,
    MinP,
    ModelName,
    Penalty,
    RepetitionPenalty,
    Seed,
    Stop,
    Temperature,
    TopK,
    TopLogprobs,
    TopP,
)

# OpenAI's documented defaults: temperature 1 and top_p 1 sample from the model unchanged.
DEFAULT_TEMPERATURE = Temperature(1.0)
DEFAULT_TOP_P = TopP(1.0)
ONE_CHOICE = ChoiceCount(1)
# The legacy completions endpoint's default, as OpenAI documents it.
DEFAULT_COMPLETION_MAX_TOKENS = MaxTokens(16)
# Spreads the seeds of one request's choices over the seed space (the 64-bit golden ratio).
_CHOICE_SEED_STRIDE = 0x9E3779B97F4A7C15


@attrs.frozen(kw_only=True)
class SamplingParams:
    temperature: Temperature = DEFAULT_TEMPERATURE
    top_p: TopP = DEFAULT_TOP_P
    top_k: TopK | None = None
    min_p: MinP | None = None
    seed: Seed | None = None
    # Logits processors, applied before the sampler (None: not asked for).
    logit_bias: LogitBias | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    repetition_penalty: RepetitionPenalty | None = None

    def for_choice(self, index: int) -> SamplingParams:
        """The settings of choice ``index``: its own seed, so that every choice of a seeded
        request is reproducible and differs from its siblings; choice 0 keeps the seed as sent.

        >>> params = SamplingParams(seed=Seed(7))
        >>> params.for_choice(0) == params, params.for_choice(1) == params
        (True, False)
        """
        if self.seed is None or index == 0:
            return self
        mixed = (self.seed.value + index * _CHOICE_SEED_STRIDE) % 2**64
        signed = mixed - 2**64 if mixed > INT64_MAX else mixed
        return attrs.evolve(self, seed=Seed(signed))


@attrs.frozen(kw_only=True)
class ChatRequest:
    model: ModelName
    conversation: Conversation
    sampling: SamplingParams = attrs.field(factory=SamplingParams)
    max_tokens: MaxTokens | None = None
    stop: Stop | None = None
    n: ChoiceCount = ONE_CHOICE
    # None: no logprobs; otherwise each token's logprob and this many alternatives.
    logprobs: TopLogprobs | None = None
    stream: bool = False
    include_usage: bool = False
    user: str | None = None
    tools: ToolSpec | None = None  # None: no tools offered
    response_format: ResponseFormat = TEXT
    # The last message is the answer's start, to continue (Anthropic's prefill), not a turn.
    continue_final: bool = False


# A completions prompt: text to tokenize, or token ids as they are.
PromptInput = str | tuple[int, ...]


@attrs.frozen(kw_only=True)
class CompletionRequest:
    """The legacy ``POST /v1/completions``: ``n`` choices for each of one or more prompts,
    with no chat template. ``echo`` puts the prompt's text before each choice's."""

    model: ModelName
    prompts: tuple[PromptInput, ...]
    sampling: SamplingParams = attrs.field(factory=SamplingParams)
    # None: the server's default cap, as for chat (a client sent max_tokens: null)
    max_tokens: MaxTokens | None = DEFAULT_COMPLETION_MAX_TOKENS
    stop: Stop | None = None
    n: ChoiceCount = ONE_CHOICE
    echo: bool = False
    # None: no logprobs; otherwise each token's logprob and this many alternatives.
    logprobs: TopLogprobs | None = None
    stream: bool = False
    include_usage: bool = False
    user: str | None = None


@attrs.frozen(kw_only=True)
class TokenizeRequest:
    """Count tokens of plain text, or of a chat as the template renders it for generation;
    ``add_special_tokens``: the tokenizer's own (a BOS, say) around plain text."""

    model: ModelName | None
    text: str | Conversation
    add_special_tokens: bool = False
    add_generation_prompt: bool = True  # a chat's: the opening of the answer's turn
    token_strs: bool = False  # also each token as the vocabulary spells it


@attrs.frozen(kw_only=True)
class DetokenizeRequest:
    """Token ids to decode back to text (each is >= 0; the vocabulary bound is the model's)."""

    model: ModelName | None
    tokens: tuple[int, ...]
