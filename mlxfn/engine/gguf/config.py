"""A GGUF file's metadata as an mlx-lm config, and its tensor names as mlx-lm's. Pure.

GGUF keeps a model's hyperparameters under ``{architecture}.*`` keys and names tensors
``blk.N.attn_q.weight``; mlx-lm wants Hugging Face's ``config.json`` keys and
``model.layers.N.self_attn.q_proj.weight``. llama.cpp's converter permutes a Llama's q and k
rows so that its interleaved rope applies, so the same weights run here with
``rope_traditional`` rather than being permuted back — which also keeps them quantized.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
from returns.result import Failure, Result, Success

# Tensor types MLX reads correctly; it reads others (the K-quants, Q5_*) as empty or garbage.
READABLE_TYPES = frozenset({"F32", "F16", "BF16", "Q4_0", "Q4_1", "Q8_0"})
GROUP_SIZE = 32  # every block quant MLX reads has 32 weights per block


@attrs.frozen
class GgufUnsupported:
    """A file this loader cannot serve, and what the user can do about it."""

    reason: str
    hint: str


_ARCHITECTURES = ("llama", "qwen2", "qwen3")
_UNSUPPORTED_HINT = (
    "mlxfn reads GGUF files of llama, qwen2 and qwen3 models; "
    "for others, serve the model's MLX or Hugging Face folder with --model DIR"
)
_QUANT_HINT = (
    "MLX reads Q4_0, Q4_1, Q8_0, F16, BF16 and F32 tensors; re-quantize the file with "
    "llama.cpp's llama-quantize to Q4_0 or Q8_0, or serve the model's MLX folder"
)

_LAYER_PARTS = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_TOP_PARTS = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}
_LAYER_NAME = re.compile(r"blk\.(\d+)\.(\w+)\.(\w+)")
_TOP_NAME = re.compile(r"(\w+)\.(\w+)")


def module_name(gguf_name: str) -> str | None:
    """mlx-lm's name for a GGUF tensor (``None`` for one the model does not use). The suffix
    is kept: ``weight``, a layer's ``bias``, and the ``scales``/``biases`` MLX's quantized
    layout adds.

    >>> module_name("blk.3.attn_q.weight")
    'model.layers.3.self_attn.q_proj.weight'
    >>> module_name("token_embd.scales")
    'model.embed_tokens.scales'
    >>> module_name("rope_freqs.weight") is None
    True
    """
    if match := _LAYER_NAME.fullmatch(gguf_name):
        layer, part, suffix = match.groups()
        target = _LAYER_PARTS.get(part)
        return None if target is None else f"model.layers.{layer}.{target}.{suffix}"
    if match := _TOP_NAME.fullmatch(gguf_name):
        part, suffix = match.groups()
        target = _TOP_PARTS.get(part)
        return None if target is None else f"{target}.{suffix}"
    return None


def unreadable_types(tensor_types: Mapping[str, str]) -> dict[str, int]:
    """How many tensors of each type MLX cannot read, e.g. ``{"Q6_K": 1}``."""
    return dict(Counter(t for t in tensor_types.values() if t not in READABLE_TYPES))


def _int(metadata: Mapping[str, Any], key: str, default: int | None = None) -> int | None:
    value = metadata.get(key, default)
    return None if value is None else int(value)


def _eos_ids(metadata: Mapping[str, Any]) -> list[int]:
    # A chat model's turn ends at its end-of-turn token, which some files give apart from EOS.
    keys = (
        "tokenizer.ggml.eos_token_id",
        "tokenizer.ggml.eot_token_id",
        "tokenizer.ggml.eom_token_id",
    )
    return sorted({int(metadata[k]) for k in keys if k in metadata})


def quantization_of(weights: Mapping[str, tuple[int, ...]]) -> dict[str, Any] | None:
    """mlx-lm's ``quantization`` entry for the packed layers: the most common bit width as the
    default, and each layer packed otherwise (a Q8_0 embedding beside Q4_1 layers) by name.
    ``weights`` maps mlx-lm tensor names to shapes.

    >>> shapes = {"a.weight": (8, 8), "a.scales": (8, 2), "b.weight": (8, 16), "b.scales": (8, 2)}
    >>> quantization_of(shapes)
    {'group_size': 32, 'bits': 4, 'b': {'group_size': 32, 'bits': 8}}
    """
    bits = {
        name.removesuffix(".scales"): weights[f"{name.removesuffix('.scales')}.weight"][-1]
        // shape[-1]
        for name, shape in weights.items()
        if name.endswith(".scales")
    }
    if not bits:
        return None
    default = Counter(bits.values()).most_common(1)[0][0]
    quantization: dict[str, Any] = {"group_size": GROUP_SIZE, "bits": default}
    for layer, b in sorted(bits.items()):
        if b != default:
            quantization[layer] = {"group_size": GROUP_SIZE, "bits": b}
    return quantization


# Llama 3.x's published rope scaling, which llama.cpp's converter turns into a rope_freqs
# tensor without keeping the parameters: low and high frequency factors, original context.
_LLAMA3_SCALINGS = ((1.0, 4.0, 8192),)


def llama3_rope_factors(
    base: float, dims: int, factor: float, *, low: float, high: float, original: int
) -> list[float]:
    """The ``rope_freqs`` llama.cpp's converter writes for Llama 3 rope scaling: per rotated
    pair, how much slower it turns (1 for short wavelengths, ``factor`` for long ones).

    >>> [round(f, 2) for f in llama3_rope_factors(500000.0, 8, 8.0, low=1, high=4, original=8192)]
    [1.0, 1.0, 2.69, 8.0]
    """
    out = []
    for i in range(0, dims, 2):
        wavelength = 2 * math.pi * base ** (i / dims)
        if wavelength < original / high:
            out.append(1.0)
        elif wavelength > original / low:
            out.append(factor)
        else:
            smooth = (original / wavelength - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return out


def llama3_scaling_of(rope_freqs: Sequence[float], base: float, dims: int) -> dict[str, Any] | None:
    """mlx-lm's ``rope_scaling`` for a ``rope_freqs`` tensor, if it is Llama 3's."""
    factor = max(rope_freqs)
    for low, high, original in _LLAMA3_SCALINGS:
        expected = llama3_rope_factors(base, dims, factor, low=low, high=high, original=original)
        if len(expected) == len(rope_freqs) and all(
            math.isclose(a, b, rel_tol=1e-4) for a, b in zip(expected, rope_freqs, strict=True)
        ):
            return {
                "rope_type": "llama3",
                "factor": factor,
                "low_freq_factor": low,
                "high_freq_factor": high,
                "original_max_position_embeddings": original,
            }
    return None


def config_of(
    metadata: Mapping[str, Any],
    tensor_names: Iterable[str],
    rope_freqs: Sequence[float] | None = None,
) -> Result[dict[str, Any], GgufUnsupported]:
    """The mlx-lm ``config.json`` for a file's metadata (scalars as Python values) and its
    ``rope_freqs`` tensor if it has one, or why the file cannot be served."""
    names = frozenset(tensor_names)
    arch = str(metadata.get("general.architecture", ""))
    if arch not in _ARCHITECTURES:
        return Failure(
            GgufUnsupported(f"GGUF architecture {arch or '(none)'!r}", _UNSUPPORTED_HINT)
        )
    scaling = metadata.get(f"{arch}.rope.scaling.type")
    if scaling not in (None, "none", "linear"):
        return Failure(
            GgufUnsupported(f"rope scaling {scaling!r} in a GGUF file", _UNSUPPORTED_HINT)
        )

    def key(name: str) -> str:
        return f"{arch}.{name}"

    heads = _int(metadata, key("attention.head_count"))
    hidden = _int(metadata, key("embedding_length"))
    layers = _int(metadata, key("block_count"))
    ffn = _int(metadata, key("feed_forward_length"))
    if heads is None or hidden is None or layers is None or ffn is None:
        return Failure(
            GgufUnsupported("a GGUF file without its model dimensions", _UNSUPPORTED_HINT)
        )
    llama3 = None
    if "rope_freqs.weight" in names:
        dims = _int(metadata, key("rope.dimension_count")) or hidden // heads
        base = float(metadata.get(key("rope.freq_base"), 10000.0))
        llama3 = llama3_scaling_of(rope_freqs, base, dims) if rope_freqs else None
        if llama3 is None:
            return Failure(
                GgufUnsupported(
                    "a rope_freqs tensor that is not Llama 3's rope scaling, in a GGUF file",
                    "serve the model's MLX or Hugging Face folder with --model DIR",
                )
            )

    tokens = metadata.get("tokenizer.ggml.tokens") or ()
    config: dict[str, Any] = {
        "model_type": arch,
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "intermediate_size": ffn,
        "num_attention_heads": heads,
        "num_key_value_heads": _int(metadata, key("attention.head_count_kv"), heads),
        "head_dim": _int(metadata, key("attention.key_length"), hidden // heads),
        "rms_norm_eps": float(metadata.get(key("attention.layer_norm_rms_epsilon"), 1e-6)),
        "rope_theta": float(metadata.get(key("rope.freq_base"), 10000.0)),
        "max_position_embeddings": _int(metadata, key("context_length"), 4096),
        "vocab_size": _int(metadata, key("vocab_size"), len(tokens)),
        "tie_word_embeddings": "output.weight" not in names,
        # llama.cpp permutes a Llama's q/k for interleaved rope; Qwen's it leaves alone.
        "rope_traditional": arch == "llama",
    }
    if arch == "llama":
        config["attention_bias"] = "blk.0.attn_q.bias" in names
        config["mlp_bias"] = "blk.0.ffn_up.bias" in names
    if scaling == "linear":
        factor = float(metadata.get(key("rope.scaling.factor"), 1.0))
        config["rope_scaling"] = {"type": "linear", "factor": factor}
    if llama3 is not None:
        config["rope_scaling"] = llama3
    if eos := _eos_ids(metadata):
        config["eos_token_id"] = eos
    if (bos := _int(metadata, "tokenizer.ggml.bos_token_id")) is not None:
        config["bos_token_id"] = bos
    return Success(config)


def describe_unreadable(counts: Mapping[str, int]) -> GgufUnsupported:
    listed = ", ".join(f"{n} {t}" for t, n in sorted(counts.items()))
    return GgufUnsupported(f"GGUF tensors MLX cannot read ({listed})", _QUANT_HINT)
