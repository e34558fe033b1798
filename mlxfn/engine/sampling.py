"""Per-sequence samplers: each carries its own random key, so a seed reproduces alone or batched."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import mlx.core as mx
from mlx_lm.sample_utils import apply_min_p, apply_top_k, apply_top_p

from mlxfn.domain.request import SamplingParams

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


def make_logits_processors(params: SamplingParams) -> list[LogitsProcessor]:
    """Per-sequence logits processors: the hook for penalties, logit_bias and constrained
    decoding. The parameters honoured today need none."""
    del params
    return []
