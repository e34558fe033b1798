"""Writing small GGUF files from mlx-lm model folders, the way llama.cpp's converter does.

``convert_hf_to_gguf.py`` renames the tensors, permutes a Llama's q and k rows for its
interleaved rope (Qwen's it leaves alone), stores the tokenizer as ``tokenizer.ggml.*``
metadata and the chat template as ``tokenizer.chat_template``. The float files are written
with MLX's own ``mx.save_gguf``; quantized ones with llama.cpp's ``gguf`` package, whose numpy
quantizers produce the same Q4_0/Q4_1/Q8_0 blocks llama.cpp does.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np

_LAYER_PARTS = {
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "self_attn.q_norm": "attn_q_norm",
    "self_attn.k_norm": "attn_k_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_TOP = {"model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output"}
_CONTROL, _NORMAL = 3, 1


def gguf_name(name: str) -> str:
    module, suffix = name.rsplit(".", 1)
    if module in _TOP:
        return f"{_TOP[module]}.{suffix}"
    _, _, layer, part = module.split(".", 3)
    return f"blk.{layer}.{_LAYER_PARTS[part]}.{suffix}"


def permute(weight: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's ``LlamaModel.permute``: each head's rotate-half pairs made adjacent."""
    rows = weight.shape[0]
    return (
        weight.reshape(heads, 2, rows // heads // 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def llama3_rope_freqs(config: dict[str, Any]) -> np.ndarray:
    """``LlamaModel.generate_extra_tensors`` of llama.cpp's converter: Llama 3's rope scaling
    as one factor per rotated pair, the scaling parameters themselves not kept."""
    scaling = config["rope_scaling"]
    dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    freqs = 1.0 / (config["rope_theta"] ** (np.arange(0, dim, 2, dtype=np.float32) / dim))
    factor, old = scaling["factor"], scaling["original_max_position_embeddings"]
    low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
    factors = []
    for freq in freqs:
        wavelen = 2 * math.pi / freq
        if wavelen < old / high:
            factors.append(1.0)
        elif wavelen > old / low:
            factors.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            factors.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(factors, dtype=np.float32)


def _tensors(folder: Path, config: dict[str, Any]) -> dict[str, np.ndarray]:
    weights = mx.load(str(folder / "model.safetensors"))
    assert isinstance(weights, dict)
    arch = config["model_type"]
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads", heads)
    out = {}
    for name, array in weights.items():
        value = np.array(array.astype(mx.float32))
        if arch == "llama" and name.endswith("q_proj.weight"):
            value = permute(value, heads)
        elif arch == "llama" and name.endswith("k_proj.weight"):
            value = permute(value, kv_heads)
        out[gguf_name(name)] = value
    if config.get("rope_scaling", {}).get("rope_type") == "llama3":
        out["rope_freqs.weight"] = llama3_rope_freqs(config)
    return out


def _metadata(folder: Path, config: dict[str, Any]) -> dict[str, Any]:
    tokenizer = json.loads((folder / "tokenizer.json").read_text())
    vocab: dict[str, int] = tokenizer["model"]["vocab"]
    special = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
    by_id = {**{i: t for t, i in vocab.items()}, **{i: t for t, i in special.items()}}
    tokens = [by_id[i] for i in range(len(by_id))]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tokenizer["model"]["merges"]]
    tokenizer_config = json.loads((folder / "tokenizer_config.json").read_text())
    template = tokenizer_config.get("chat_template")
    if template is None and (folder / "chat_template.jinja").is_file():
        template = (folder / "chat_template.jinja").read_text()
    eos = config["eos_token_id"]
    arch = config["model_type"]
    return {
        "general.architecture": arch,
        "general.name": folder.name,
        f"{arch}.context_length": config["max_position_embeddings"],
        f"{arch}.embedding_length": config["hidden_size"],
        f"{arch}.block_count": config["num_hidden_layers"],
        f"{arch}.feed_forward_length": config["intermediate_size"],
        f"{arch}.attention.head_count": config["num_attention_heads"],
        f"{arch}.attention.head_count_kv": config.get(
            "num_key_value_heads", config["num_attention_heads"]
        ),
        f"{arch}.attention.layer_norm_rms_epsilon": config["rms_norm_eps"],
        f"{arch}.rope.freq_base": config["rope_theta"],
        **({f"{arch}.attention.key_length": config["head_dim"]} if "head_dim" in config else {}),
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": "gpt2",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.token_type": [_CONTROL if t in special else _NORMAL for t in tokens],
        "tokenizer.ggml.merges": merges,
        "tokenizer.ggml.eos_token_id": eos if isinstance(eos, int) else eos[-1],
        "tokenizer.ggml.add_bos_token": False,
        "tokenizer.chat_template": template,
    }


def write_float_gguf(folder: Path, out: Path) -> Path:
    """The model in ``folder`` as an F32 GGUF file, written by ``mx.save_gguf``."""
    config = json.loads((folder / "config.json").read_text())
    metadata: dict[str, Any] = {}
    for key, value in _metadata(folder, config).items():
        if isinstance(value, bool):
            metadata[key] = mx.array(value)
        elif isinstance(value, int):
            metadata[key] = mx.array(value, dtype=mx.uint32)
        elif isinstance(value, float):
            metadata[key] = mx.array(value, dtype=mx.float32)
        elif isinstance(value, list) and value and isinstance(value[0], int):
            metadata[key] = mx.array(value, dtype=mx.int32)
        else:
            metadata[key] = value
    arrays = {name: mx.array(value) for name, value in _tensors(folder, config).items()}
    mx.save_gguf(str(out), arrays, metadata)
    return out


def write_quantized_gguf(
    folder: Path,
    out: Path,
    quant: str,
    *,
    embedding: str | None = None,
    architecture: str | None = None,
) -> Path:
    """The model in ``folder`` as a GGUF file whose matrices are in ``quant`` (a
    ``GGMLQuantizationType`` name, e.g. ``Q4_1``; ``embedding`` for the token embedding), norms
    and biases in F32, written by llama.cpp's ``gguf`` package. ``architecture`` overrides the
    file's stated architecture (to test refusals)."""
    import gguf

    config = json.loads((folder / "config.json").read_text())
    metadata = _metadata(folder, config)
    arch = architecture or config["model_type"]
    writer = gguf.GGUFWriter(str(out), arch)
    for stated, value in metadata.items():
        key = stated.replace(f"{config['model_type']}.", f"{arch}.", 1)
        if key == "general.architecture":
            continue
        if isinstance(value, bool):
            writer.add_bool(key, value)
        elif isinstance(value, int):
            writer.add_uint32(key, value)
        elif isinstance(value, float):
            writer.add_float32(key, value)
        elif isinstance(value, str):
            writer.add_string(key, value)
        else:
            writer.add_array(key, value)
    for name, value in _tensors(folder, config).items():
        chosen = embedding if name.startswith("token_embd") and embedding else quant
        kind = gguf.GGMLQuantizationType[chosen]
        if value.ndim == 2 and kind not in (gguf.GGMLQuantizationType.F32,):
            if chosen.endswith("_K"):  # llama.cpp's numpy code cannot make K-quants: any bytes do
                block, size = gguf.GGML_QUANT_SIZES[kind]
                raw = np.zeros((value.shape[0], value.shape[1] // block * size), dtype=np.uint8)
                writer.add_tensor(name, raw, raw_dtype=kind)
            else:
                writer.add_tensor(name, gguf.quants.quantize(value, kind), raw_dtype=kind)
        else:
            writer.add_tensor(name, value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out
