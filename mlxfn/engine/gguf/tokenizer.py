"""A GGUF file's tokenizer, rebuilt as Hugging Face tokenizer files mlx-lm loads.

A GGUF has no ``tokenizer.json``: it stores the vocabulary, merges, token types and special ids
under ``tokenizer.ggml.*``. transformers' GGUF support already turns those into a fast tokenizer
(byte-level BPE for ``gpt2``-model files, SentencePiece-style for ``llama``-model ones), so this
hands the metadata to it and saves the result with the file's chat template and special tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

# SmolLM's own tokenizer.json splits digits one by one before the byte-level split; llama.cpp
# names that pre-tokenizer "smollm", which transformers' table does not list.
_DIGITS_FIRST = frozenset({"smollm"})


def _tokenizer_dict(metadata: Mapping[str, Any]) -> dict[str, Any]:
    from transformers.integrations.gguf.gguf_tokenizer_mapping import GGUF_TOKENIZER_MAPPING

    renames = GGUF_TOKENIZER_MAPPING["tokenizer"]
    return {
        name: metadata[f"tokenizer.{k}"]
        for k, name in renames.items()
        if f"tokenizer.{k}" in metadata
    }


def _token(tokens: list[str], metadata: Mapping[str, Any], key: str) -> str | None:
    index = metadata.get(f"tokenizer.ggml.{key}")
    return tokens[int(index)] if index is not None and 0 <= int(index) < len(tokens) else None


def write_tokenizer(metadata: Mapping[str, Any], folder: Path) -> None:
    """Write ``tokenizer.json`` and ``tokenizer_config.json`` (with the chat template) into
    ``folder``. Raises ``ValueError`` for a tokenizer model transformers cannot build."""
    from tokenizers import pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    from transformers.integrations.gguf.gguf_tokenizer_mapping import convert_gguf_tokenizer

    described = _tokenizer_dict(metadata)
    backend, _ = convert_gguf_tokenizer(str(metadata["general.architecture"]), described)
    if described.get("pre_tokenizer_type") in _DIGITS_FIRST:
        backend.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Digits(individual_digits=True),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
            ]
        )
    tokens: list[str] = list(described["tokens"])
    # llama.cpp adds BOS to a SentencePiece vocabulary unless the file says otherwise.
    add_bos = metadata.get("tokenizer.ggml.add_bos_token")
    if add_bos is None:
        add_bos = described.get("tokenizer_type") == "llama"
    options: dict[str, Any] = {
        "bos_token": _token(tokens, metadata, "bos_token_id"),
        "eos_token": _token(tokens, metadata, "eos_token_id"),
        "unk_token": _token(tokens, metadata, "unknown_token_id"),
        "pad_token": _token(tokens, metadata, "padding_token_id"),
        "add_bos_token": bool(add_bos),
        "add_eos_token": bool(metadata.get("tokenizer.ggml.add_eos_token", False)),
    }
    if template := metadata.get("tokenizer.chat_template"):
        options["chat_template"] = str(template)
    tokenizer = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=backend, **{k: v for k, v in options.items() if v is not None}
    )
    tokenizer.save_pretrained(str(folder))
