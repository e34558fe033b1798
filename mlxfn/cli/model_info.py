"""What a model folder holds, as a value: folder facts → ``ModelInfo`` → text or JSON. Pure.

``mlxfn/cli/model_folder.py`` reads the facts (config, safetensors headers, tokenizer); this module
only counts and describes them, so ``python -m mlxfn info`` never loads weights.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

import attrs

from mlxfn.domain.model_config import context_length_of

# safetensors dtype names → the names MLX and NumPy use
_DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "F8_E4M3": "float8_e4m3",
    "F8_E5M2": "float8_e5m2",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U64": "uint64",
    "U32": "uint32",
    "U16": "uint16",
    "U8": "uint8",
    "BOOL": "bool",
}
# How packed quantized weights are stored: MLX packs ``bits``-bit values into uint32 words.
_PACKED_BITS = 32


@attrs.frozen
class TensorHeader:
    """One tensor as a safetensors header describes it."""

    dtype: str
    shape: tuple[int, ...]


@attrs.frozen
class FileEntry:
    name: str
    size_bytes: int


@attrs.frozen(kw_only=True)
class TokenizerFacts:
    """What mlx-lm's tokenizer loader made of the folder (it reads no weights)."""

    chat_template: bool
    tool_parser: str | None
    vocab_size: int


@attrs.frozen(kw_only=True)
class FolderFacts:
    """Everything ``info`` needs, read from disk; ``tokenizer`` is a reason when it did not load."""

    path: str
    config: Mapping[str, Any] = attrs.field(eq=False, hash=False)
    tensors: tuple[tuple[str, TensorHeader], ...]
    files: tuple[FileEntry, ...]
    template_file: bool  # chat_template.jinja/.json, or a chat_template in tokenizer_config.json
    tokenizer: TokenizerFacts | str


@attrs.frozen(kw_only=True)
class Quantization:
    bits: int
    group_size: int | None
    mode: str | None


@attrs.frozen(kw_only=True)
class ModelInfo:
    """The description ``python -m mlxfn info`` prints."""

    path: str
    architecture: str | None
    parameters: int
    quantization: Quantization | None
    dtype: str | None
    context_length: int
    vocab_size: int | None
    chat_template: bool
    tool_parser: str | None
    tokenizer_problem: str | None
    files: tuple[FileEntry, ...]

    @property
    def size_bytes(self) -> int:
        return sum(f.size_bytes for f in self.files)


def quantization_of(config: Mapping[str, Any]) -> Quantization | None:
    """The model-wide quantization an MLX config declares, if any.

    >>> quantization_of({"quantization": {"group_size": 64, "bits": 4, "mode": "affine"}})
    Quantization(bits=4, group_size=64, mode='affine')
    >>> quantization_of({"model_type": "llama"}) is None
    True
    """
    declared = config.get("quantization") or config.get("quantization_config")
    if not isinstance(declared, Mapping) or not isinstance(declared.get("bits"), int):
        return None
    group = declared.get("group_size")
    mode = declared.get("mode")
    return Quantization(
        bits=declared["bits"],
        group_size=group if isinstance(group, int) else None,
        mode=mode if isinstance(mode, str) else None,
    )


def _bits_of(module: str, config: Mapping[str, Any], default: int) -> int:
    # MLX configs may quantize single modules differently: {"model.layers.0.mlp": {"bits": 8}}.
    declared = config.get("quantization") or {}
    own = declared.get(module) if isinstance(declared, Mapping) else None
    if isinstance(own, Mapping) and isinstance(own.get("bits"), int):
        return int(own["bits"])
    return default


def count_parameters(
    tensors: tuple[tuple[str, TensorHeader], ...], config: Mapping[str, Any]
) -> int:
    """Parameters as the model has them: a packed quantized weight counts its unpacked values,
    and its scales and biases (bookkeeping of the quantization) count nothing.

    >>> count_parameters((("w.weight", TensorHeader("F32", (4, 8))),), {})
    32
    >>> count_parameters(
    ...     (
    ...         ("w.weight", TensorHeader("U32", (4, 1))),
    ...         ("w.scales", TensorHeader("F16", (4, 1))),
    ...         ("w.biases", TensorHeader("F16", (4, 1))),
    ...     ),
    ...     {"quantization": {"bits": 4, "group_size": 8}},
    ... )
    32
    """
    names = {name for name, _ in tensors}
    quantized = {name.removesuffix(".scales") for name in names if name.endswith(".scales")}
    default_bits = (
        quantization_of(config) or Quantization(bits=4, group_size=None, mode=None)
    ).bits
    total = 0
    for name, header in tensors:
        module, _, leaf = name.rpartition(".")
        size = math.prod(header.shape)
        if module in quantized:
            if leaf in ("scales", "biases"):
                continue
            if leaf == "weight" and header.dtype == "U32":
                size = size * _PACKED_BITS // _bits_of(module, config, default_bits)
        total += size
    return total


def dtype_of(tensors: tuple[tuple[str, TensorHeader], ...]) -> str | None:
    """The dtype most parameters are stored in, leaving out packed quantized words.

    >>> dtype_of((("a", TensorHeader("BF16", (8,))), ("b", TensorHeader("F32", (2,)))))
    'bfloat16'
    """
    counts: Counter[str] = Counter()
    for _, header in tensors:
        if header.dtype != "U32":
            counts[header.dtype] += math.prod(header.shape)
    if not counts:
        return None
    dtype = counts.most_common(1)[0][0]
    return _DTYPES.get(dtype, dtype.lower())


def _vocab_size(config: Mapping[str, Any]) -> int | None:
    for scope in (config, config.get("text_config") or {}):
        value = scope.get("vocab_size")
        if isinstance(value, int):
            return value
    return None


def _architecture(config: Mapping[str, Any]) -> str | None:
    model_type = config.get("model_type")
    return model_type if isinstance(model_type, str) else None


def build_model_info(facts: FolderFacts) -> ModelInfo:
    """Count and describe what the folder holds."""
    vocab: int | None
    match facts.tokenizer:
        case TokenizerFacts() as tokenizer:
            chat_template = tokenizer.chat_template or facts.template_file
            tool_parser, problem = tokenizer.tool_parser, None
            vocab = _vocab_size(facts.config) or tokenizer.vocab_size
        case str() as reason:
            chat_template, tool_parser, problem = facts.template_file, None, reason
            vocab = _vocab_size(facts.config)
    return ModelInfo(
        path=facts.path,
        architecture=_architecture(facts.config),
        parameters=count_parameters(facts.tensors, facts.config),
        quantization=quantization_of(facts.config),
        dtype=dtype_of(facts.tensors),
        context_length=context_length_of(dict(facts.config)),
        vocab_size=vocab,
        chat_template=chat_template,
        tool_parser=tool_parser,
        tokenizer_problem=problem,
        files=facts.files,
    )


def format_count(n: int) -> str:
    """A parameter count the way model cards write it.

    >>> format_count(34_078_848), format_count(1_500_000_000), format_count(950)
    ('34.1M', '1.5B', '950')
    """
    for limit, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if n >= limit:
            return f"{n / limit:.1f}{suffix}"
    return str(n)


def format_bytes(n: int) -> str:
    """Sizes on disk in binary units.

    >>> format_bytes(593_251), format_bytes(512)
    ('579.3 KiB', '512 B')
    """
    if n < 1024:
        return f"{n} B"
    size, unit = n / 1024, "KiB"
    for larger in ("MiB", "GiB"):
        if size < 1024:
            break
        size, unit = size / 1024, larger
    return f"{size:.1f} {unit}"


def _describe_quantization(q: Quantization) -> str:
    details = [f"quantized, {q.bits} bits"]
    if q.group_size:
        details.append(f"group size {q.group_size}")
    if q.mode and q.mode != "affine":
        details.append(q.mode)
    return ", ".join(details)


def _describe_tool_parser(info: ModelInfo) -> str:
    if info.tokenizer_problem is not None:
        return f"unknown (the tokenizer did not load: {info.tokenizer_problem})"
    return info.tool_parser or "none in the chat template: tools use mlxfn's generic format"


def render_model_info(info: ModelInfo) -> str:
    """Aligned ``label  value`` lines for a terminal."""
    params = format_count(info.parameters)
    if info.quantization is not None:
        params += f" ({_describe_quantization(info.quantization)})"
    rows = [
        ("folder", info.path),
        ("architecture", info.architecture or "unknown (config.json names no model_type)"),
        ("parameters", params),
        ("dtype", info.dtype or "unknown"),
        ("context length", f"{info.context_length} tokens"),
        ("vocabulary", f"{info.vocab_size} tokens" if info.vocab_size else "unknown"),
        ("chat template", "yes" if info.chat_template else "no"),
        ("tool parser", _describe_tool_parser(info)),
        ("files", f"{len(info.files)}, {format_bytes(info.size_bytes)} on disk"),
    ]
    width = max(len(label) for label, _ in rows) + 2
    lines = [f"{label:<{width}}{value}" for label, value in rows]
    name_width = max((len(f.name) for f in info.files), default=0) + 2
    lines += [
        f"{'':<{width}}  {f.name:<{name_width}}{format_bytes(f.size_bytes)}" for f in info.files
    ]
    return "\n".join(lines)


def render_model_info_json(info: ModelInfo) -> dict[str, Any]:
    """The same facts for scripts (``--json``)."""
    q = info.quantization
    return {
        "path": info.path,
        "architecture": info.architecture,
        "parameters": info.parameters,
        "quantization": None
        if q is None
        else {"bits": q.bits, "group_size": q.group_size, "mode": q.mode},
        "dtype": info.dtype,
        "context_length": info.context_length,
        "vocab_size": info.vocab_size,
        "chat_template": info.chat_template,
        "tool_parser": info.tool_parser,
        "tokenizer_problem": info.tokenizer_problem,
        "size_bytes": info.size_bytes,
        "files": [{"name": f.name, "size_bytes": f.size_bytes} for f in info.files],
    }
