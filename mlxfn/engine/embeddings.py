"""Sentence vectors from a causal LM's hidden states: the mean of the last layer's normed
hidden states over every token of the input, scaled to unit length.

An input longer than ``POOL_CHUNK`` tokens is run chunk by chunk over a KV cache, which gives
the same hidden states as one pass. Mean pooling is what a model not trained for embeddings
supports best (its last token alone mostly predicts the next one); unit length makes the dot
product the cosine similarity, which is what OpenAI's vectors promise. Runs on the engine
thread only, like every MLX call.
"""

from __future__ import annotations

from typing import Any, Final

import attrs
import mlx.core as mx
from mlx_lm.models.cache import make_prompt_cache


def hidden_size(model: Any) -> int | None:
    """The width of the model's hidden states, or None for a model that does not expose its
    transformer as ``model.model`` (mlx-lm's Llama, Qwen, Mistral and most others do)."""
    inner = getattr(model, "model", None)
    embed = getattr(inner, "embed_tokens", None)
    weight = getattr(embed, "weight", None)
    if weight is None:
        return None
    # A quantized embedding packs several values per uint32; its scales still have one row
    # per token and the layer knows its true width.
    dims = getattr(embed, "dims", None)
    return int(dims) if dims is not None else int(weight.shape[-1])


# Tokens per forward pass: an input longer than this is pooled chunk by chunk over a KV cache,
# one engine task each, so that running streams step between its chunks.
POOL_CHUNK: Final = 512


@attrs.define
class Pooling:
    """One input's pooling in progress: the sum of its hidden states so far, the tokens they
    cover, and the KV cache its later chunks attend through. Engine thread only."""

    cache: list[Any]
    total: mx.array | None = None
    count: int = 0


def start_pooling(model: Any) -> Pooling:
    return Pooling(make_prompt_cache(model))


def pool_chunk(model: Any, pooling: Pooling, token_ids: tuple[int, ...]) -> None:
    """Add one chunk's final normed hidden states (the transformer before its LM head)."""
    hidden = model.model(mx.array([token_ids]), cache=pooling.cache)  # (1, tokens, width)
    summed = mx.sum(hidden[0].astype(mx.float32), axis=0)
    pooling.total = summed if pooling.total is None else pooling.total + summed
    mx.eval(pooling.total, [c.state for c in pooling.cache])
    pooling.count += len(token_ids)


def finish_pooling(pooling: Pooling) -> tuple[float, ...]:
    """The mean over every token, scaled to unit length."""
    assert pooling.total is not None, "an input has at least one token"
    mean = pooling.total / pooling.count
    unit = mean / mx.maximum(mx.linalg.norm(mean), mx.array(1e-12))
    values: list[float] = unit.tolist()  # type: ignore[assignment]  # a 1-d float array
    return tuple(values)


def pooled_embedding(model: Any, token_ids: tuple[int, ...]) -> tuple[float, ...]:
    """One input's vector in one go (chunked all the same): for notebooks and tests."""
    pooling = start_pooling(model)
    for start in range(0, len(token_ids), POOL_CHUNK):
        pool_chunk(model, pooling, token_ids[start : start + POOL_CHUNK])
    return finish_pooling(pooling)
