"""What a model's ``config.json`` says about its context and vocabulary, read from the parsed
dict: the loader and ``python -m mlxfn info`` read it the same way."""

from __future__ import annotations

from typing import Any

# Config keys different architectures use for their trained context length, most specific first.
_CONTEXT_KEYS = (
    "max_position_embeddings",
    "max_sequence_length",
    "seq_length",
    "n_positions",
    "n_ctx",
)
FALLBACK_CONTEXT_LENGTH = 4096


def context_length_of(config: dict[str, Any]) -> int:
    """The model's context length from its config, looking inside ``text_config`` too.

    >>> context_length_of({"text_config": {"max_position_embeddings": 32768}})
    32768
    """
    for scope in (config, config.get("text_config") or {}):
        for key in _CONTEXT_KEYS:
            value = scope.get(key)
            if isinstance(value, int) and value > 0:
                return value
    return FALLBACK_CONTEXT_LENGTH


def vocab_size_of(config: dict[str, Any], tokenizer_size: int) -> int:
    """Token ids valid for both the model's logits and the tokenizer: a padded embedding has
    rows no token reaches, and a tokenizer can know ids past a model's logits.

    >>> vocab_size_of({"text_config": {"vocab_size": 1024}}, 1000)
    1000
    """
    for scope in (config, config.get("text_config") or {}):
        value = scope.get("vocab_size")
        if isinstance(value, int) and value > 0:
            return min(value, tokenizer_size)
    return tokenizer_size
