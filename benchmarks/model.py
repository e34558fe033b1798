"""Benchmark models: a realistically shaped random-weight Llama, float32 and 4-bit.

``mlxfn.tiny_model`` makes test-sized models with a 512-token vocabulary trained on one
paragraph. A benchmark needs the shapes that decide speed: tens of millions of parameters and
a vocabulary in the tens of thousands, so that the LM head and per-token sampling cost what
they cost in real models. This module reuses tiny_model's ChatML template and special tokens,
trains a byte-level BPE on the Python standard library's sources (local, deterministic, no
network), and caches the result under ``benchmarks/.models/``.
"""

from __future__ import annotations

import json
import shutil
import sysconfig
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from mlxfn import tiny_model

MODELS_DIR = Path(__file__).resolve().parent / ".models"
# Bump when the builder changes what it writes, so stale caches are not reused.
BUILDER_VERSION = 1


@dataclass(frozen=True)
class ModelShape:
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    context: int
    vocab: int
    corpus_bytes: int

    @property
    def slug(self) -> str:
        return (
            f"llama-h{self.hidden}-l{self.layers}-a{self.heads}-kv{self.kv_heads}"
            f"-i{self.intermediate}-c{self.context}-v{self.vocab}-b{BUILDER_VERSION}"
        )

    @property
    def parameters(self) -> int:
        """Parameter count (tied embeddings: the LM head shares the embedding matrix)."""
        head_dim = self.hidden // self.heads
        attention = 2 * self.hidden * self.hidden + 2 * self.hidden * self.kv_heads * head_dim
        mlp = 3 * self.hidden * self.intermediate
        norms = 2 * self.hidden
        return self.layers * (attention + mlp + norms) + self.vocab * self.hidden + self.hidden


# ~34M parameters, float32 (~136 MB): 25.7M in the 8 blocks, 8.4M in the tied embedding/head.
FULL_SHAPE = ModelShape(
    hidden=512,
    layers=8,
    heads=8,
    kv_heads=8,
    intermediate=1408,
    context=4096,
    vocab=16384,
    corpus_bytes=8_000_000,
)
# The default: the same proportions at a size whose 1k-token prefills fit the default run in
# ~15 minutes on 2 CPU cores (MLX's Linux CPU wheel ships a reference BLAS: ~6 GFLOP/s).
SMALL_SHAPE = ModelShape(
    hidden=256,
    layers=4,
    heads=4,
    kv_heads=4,
    intermediate=704,
    context=4096,
    vocab=8192,
    corpus_bytes=4_000_000,
)
# For --quick: a smoke test of the whole harness, not a measurement.
QUICK_SHAPE = ModelShape(
    hidden=128,
    layers=2,
    heads=4,
    kv_heads=4,
    intermediate=352,
    context=4096,
    vocab=4096,
    corpus_bytes=1_500_000,
)


@dataclass(frozen=True)
class BenchModels:
    f32: Path
    q4: Path | None
    description: str


def _corpus(limit_bytes: int) -> list[str]:
    """The interpreter's own standard-library sources, in a fixed order, up to a size."""
    root = Path(sysconfig.get_paths()["stdlib"])
    texts: list[str] = []
    total = 0
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if parts[0] in {"test", "site-packages", "idlelib", "lib2to3"}:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        texts.append(text)
        total += len(text)
        if total >= limit_bytes:
            break
    if total < limit_bytes // 4:
        raise RuntimeError(f"too little text under {root} to train a tokenizer ({total} chars)")
    return texts


def build_tokenizer(path: Path, vocab_size: int, corpus_bytes: int) -> tuple[int, int]:
    """tiny_model's byte-level BPE and ChatML template, trained on a larger corpus."""
    return tiny_model.build_tokenizer(path, vocab_size, _corpus(corpus_bytes))


def _write_f32(path: Path, shape: ModelShape, seed: int) -> None:
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.models import llama

    vocab, eos_id = build_tokenizer(path, shape.vocab, shape.corpus_bytes)
    config = {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": shape.hidden,
        "num_hidden_layers": shape.layers,
        "intermediate_size": shape.intermediate,
        "num_attention_heads": shape.heads,
        "num_key_value_heads": shape.kv_heads,
        "rms_norm_eps": 1e-5,
        "vocab_size": vocab,
        "max_position_embeddings": shape.context,
        "rope_theta": 10000.0,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "eos_token_id": eos_id,
    }
    mx.random.seed(seed)
    model = llama.Model(llama.ModelArgs.from_dict(config))  # type: ignore[no-untyped-call]
    weights = dict(tree_flatten(model.parameters()))
    # The head is tied to the embedding: a zero row gives the end-of-turn and padding tokens
    # a logit of exactly 0, while the largest of the other random logits is positive, so
    # greedy decoding never stops early and every request yields exactly max_tokens tokens.
    embed = weights["model.embed_tokens.weight"]
    keep = mx.ones((vocab, 1), dtype=embed.dtype)
    keep[eos_id] = 0.0
    keep[0] = 0.0  # <|endoftext|>
    weights["model.embed_tokens.weight"] = embed * keep
    mx.save_safetensors(str(path / "model.safetensors"), weights, metadata={"format": "mlx"})
    (path / "config.json").write_text(json.dumps(config, indent=2))
    (path / "bench_model.json").write_text(
        json.dumps({"shape": asdict(shape), "seed": seed, "vocab": vocab}, indent=2)
    )


def _write_q4(source: Path, path: Path) -> None:
    from mlx_lm.convert import convert

    convert(
        hf_path=str(source),
        mlx_path=str(path),
        quantize=True,
        q_bits=4,
        q_group_size=64,
        dtype="float32",
    )


def _build_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Build into a sibling temporary folder and rename, so a killed build leaves no cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        target = staging / "model"
        write(target)
        target.rename(path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def ensure_models(shape: ModelShape, *, quantized: bool, seed: int = 0) -> BenchModels:
    """Return the cached float32 (and 4-bit) model folders, building what is missing."""
    f32 = MODELS_DIR / f"{shape.slug}-s{seed}-f32"
    q4 = MODELS_DIR / f"{shape.slug}-s{seed}-q4"
    if not (f32 / "config.json").exists():
        print(f"[bench] building {f32.name} (tokenizer training + random weights) ...", flush=True)

        def write_f32(target: Path) -> None:
            target.mkdir()
            _write_f32(target, shape, seed)

        _build_atomically(f32, write_f32)
    if quantized and not (q4 / "config.json").exists():
        print(f"[bench] quantizing to {q4.name} ...", flush=True)
        _build_atomically(q4, lambda target: _write_q4(f32, target))
    vocab = json.loads((f32 / "config.json").read_text())["vocab_size"]
    description = (
        f"random-weight Llama, {shape.parameters / 1e6:.1f}M parameters: hidden {shape.hidden}, "
        f"{shape.layers} layers, {shape.heads} heads ({shape.kv_heads} KV), "
        f"intermediate {shape.intermediate}, context {shape.context}, "
        f"vocabulary {vocab} (byte-level BPE trained on the Python stdlib, ChatML template), "
        "tied embeddings"
    )
    return BenchModels(f32=f32, q4=q4 if quantized else None, description=description)


def describe_model(path: Path) -> str:
    """A one-line description of any model folder (for --model)."""
    config = json.loads((path / "config.json").read_text())
    quant = config.get("quantization")
    bits = f", {quant['bits']}-bit" if isinstance(quant, dict) else ""
    return (
        f"{path.name}: {config.get('model_type')}, hidden {config.get('hidden_size')}, "
        f"{config.get('num_hidden_layers')} layers, vocabulary {config.get('vocab_size')}{bits}"
    )
