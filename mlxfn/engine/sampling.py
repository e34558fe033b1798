"""Per-sequence samplers: each carries its own random key, so a seed reproduces alone or batched."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import mlx.core as mx
from mlx_lm.sample_utils import (
    apply_min_p,
    apply_top_k,
    apply_top_p,
    make_repetition_penalty,
)
from mlx_lm.sample_utils import make_logits_processors as make_mlx_lm_processors

from mlxfn.domain.request import SamplingParams
from mlxfn.pipeline.plan import GenerationPlan

Sampler = Callable[[mx.array], mx.array]
# (tokens so far, logits of shape (1, vocab)) -> logits: mlx-lm's hook, applied per sequence.
LogitsProcessor = Callable[[mx.array, mx.array], mx.array]


def greedy(logprobs: mx.array) -> mx.array:
    return mx.argmax(logprobs, axis=-1)


def make_sampler(params: SamplingParams) -> Sampler:
    """A sampler over log-probabilities that owns its random state."""
    if params.temperature.is_greedy:
        return greedy
    seed = params.seed.value if params.seed is not None else secrets.randbits(63)
    key = mx.random.key(seed % 2**64)
    inverse_temperature = 1.0 / params.temperature.value
    top_p = params.top_p.value
    top_k = params.top_k.value if params.top_k else 0
    min_p = params.min_p.value if params.min_p else 0.0

    def sample(logprobs: mx.array) -> mx.array:
        nonlocal key
        key, sub = mx.random.split(key)
        if top_p < 1.0:
            logprobs = apply_top_p(logprobs, top_p)
        if min_p > 0.0:
            logprobs = apply_min_p(logprobs, min_p)
        if 0 < top_k < logprobs.shape[-1]:  # a k past the vocabulary keeps every token
            logprobs = apply_top_k(logprobs, top_k)
        return mx.random.categorical(logprobs * inverse_temperature, key=sub)

    return sample


# mlx-lm's window for its repetition penalty (and mlx_lm.server's default): the extension
# keeps mlx-lm's meaning, prompt included.
REPETITION_CONTEXT = 20


def make_logits_processors(plan: GenerationPlan) -> list[LogitsProcessor]:
    """Per-sequence logits processors, in order: repetition penalty (multiplicative), presence
    and frequency penalties, then logit_bias (additive, so +100/-100 stay decisive); the hook
    for constrained decoding too. A request that asks for none gets an empty list, which keeps
    mlx-lm's batched step free of per-sequence work."""
    params = plan.sampling
    processors: list[LogitsProcessor] = []
    repetition = params.repetition_penalty
    if repetition is not None and repetition.value != 1.0:
        processors.append(make_repetition_penalty(repetition.value, REPETITION_CONTEXT))
    presence = params.presence_penalty.value if params.presence_penalty else 0.0
    frequency = params.frequency_penalty.value if params.frequency_penalty else 0.0
    if presence or frequency:
        processors.append(penalise_completion_repeats(len(plan.prompt), presence, frequency))
    if params.logit_bias is not None:
        # mlx-lm's processor adds the biases to the logits, which is OpenAI's meaning
        processors.extend(make_mlx_lm_processors(logit_bias=dict(params.logit_bias.entries)))
    return processors


def penalise_completion_repeats(
    prompt_length: int, presence: float, frequency: float
) -> LogitsProcessor:
    """OpenAI's presence and frequency penalties: ``logit[j] -= c[j] * frequency + (c[j] > 0)
    * presence``, where ``c[j]`` counts token j in the completion so far.

    mlx-lm's own penalties count the last 20 tokens of the context, prompt included; OpenAI's
    count every token generated, and only those (mlx-lm passes the whole context, prompt first).
    """

    def penalise(tokens: mx.array, logits: mx.array) -> mx.array:
        generated = tokens[prompt_length:]
        if generated.size == 0:
            return logits
        counts = mx.zeros((logits.shape[-1],), dtype=mx.float32).at[generated].add(1.0)
        return logits - (counts * frequency + (counts > 0) * presence).astype(logits.dtype)

    return penalise
