"""Sentence vectors from a causal LM's hidden states: the mean of the last layer's normed
hidden states over every token of the input, scaled to unit length.

Mean pooling is what a model not trained for embeddings supports best (its last token alone
mostly predicts the next one); unit length makes the dot product the cosine similarity, which
is what OpenAI's vectors promise. Runs on the engine thread only, like every MLX call.
"""

from __future__ import annotations

from typing import Any

import mlx.core as mx


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


def pooled_embedding(model: Any, token_ids: tuple[int, ...]) -> tuple[float, ...]:
    """One input's vector: mean over its tokens of the final normed hidden state, unit length."""
    hidden = model.model(mx.array([token_ids]))  # (1, tokens, width), after the final norm
    mean = mx.mean(hidden[0].astype(mx.float32), axis=0)
    unit = mean / mx.maximum(mx.linalg.norm(mean), mx.array(1e-12))
    values: list[float] = unit.tolist()  # type: ignore[assignment]  # a 1-d float array
    return tuple(values)
