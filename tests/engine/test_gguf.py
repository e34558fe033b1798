"""GGUF files through the real loader: written here the way llama.cpp writes them, converted
once into a cached mlx-lm folder, and loaded into a model that computes what the original
folder's model computes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np
import pytest
from mlx import nn
from mlx.utils import tree_flatten
from returns.result import Failure

from mlxfn.effects import run_io
from mlxfn.engine.gguf.config import module_name
from mlxfn.engine.loader import LoadedModel, ModelLoadFailed, ModelSpec, load_model
from mlxfn.engine.weights import WeightLayout
from mlxfn.tiny_model import build_tiny_model
from tests.engine.gguf_files import gguf_name, write_float_gguf, write_quantized_gguf

TOKENS = [[1, 5, 17, 42, 99, 7, 250, 3, 64, 11]]
TEXTS = (
    "hello world! what is two plus two?",
    "  naïve café über 東京 🙂 42",
    "<|im_start|>user\nhi<|im_end|>\n",
)


@pytest.fixture(scope="module")
def gqa_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama with grouped-query attention (4 query heads, 2 key/value heads)."""
    return build_tiny_model(tmp_path_factory.mktemp("models") / "gqa", kv_heads=2, seed=3)


@pytest.fixture(scope="module")
def qwen2_model_dir(gqa_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2 (q/k/v biases, no permutation in GGUF) with the tiny tokenizer."""
    from mlx_lm.models import qwen2

    folder = tmp_path_factory.mktemp("models") / "qwen2"
    shutil.copytree(gqa_model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "qwen2"
    mx.random.seed(5)
    model = qwen2.Model(qwen2.ModelArgs.from_dict(config))
    weights = {
        k: v + 0.02 if k.endswith(".bias") else v for k, v in tree_flatten(model.parameters())
    }
    mx.save_safetensors(str(folder / "model.safetensors"), weights, metadata={"format": "mlx"})
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="module")
def qwen3_model_dir(gqa_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen3 (q/k norms, a head size of its own) with the tiny tokenizer."""
    from mlx_lm.models import qwen3

    folder = tmp_path_factory.mktemp("models") / "qwen3"
    shutil.copytree(gqa_model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config |= {"model_type": "qwen3", "head_dim": 32}
    mx.random.seed(7)
    model = qwen3.Model(qwen3.ModelArgs.from_dict(config))
    weights = {
        k: v + 0.1 * mx.random.normal(v.shape) if "_norm" in k else v
        for k, v in tree_flatten(model.parameters())
    }
    mx.save_safetensors(str(folder / "model.safetensors"), weights, metadata={"format": "mlx"})
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="module")
def llama3_model_dir(gqa_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The GQA Llama with Llama 3's rope scaling, whose long wavelengths turn 8 times slower."""
    folder = tmp_path_factory.mktemp("models") / "llama3"
    shutil.copytree(gqa_model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config["rope_scaling"] = {
        "rope_type": "llama3",
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192,
    }
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _load(source: Path, weights: WeightLayout = "quantized") -> LoadedModel:
    return run_io(load_model(ModelSpec(source=str(source), weights=weights))).unwrap()


def _logits(loaded: LoadedModel) -> np.ndarray:
    out = loaded.model(mx.array(TOKENS))
    return np.array(out.astype(mx.float32))


def _failure(source: Path) -> ModelLoadFailed:
    result = run_io(load_model(ModelSpec(source=str(source))))
    assert isinstance(result, Failure), result
    failed = result.failure()
    assert isinstance(failed, ModelLoadFailed)
    return failed


@pytest.mark.parametrize(
    "folder_fixture",
    ["tiny_model_dir", "gqa_model_dir", "qwen2_model_dir", "qwen3_model_dir", "llama3_model_dir"],
)
def test_a_float_gguf_computes_what_its_folder_computes(
    folder_fixture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    folder: Path = request.getfixturevalue(folder_fixture)
    gguf = write_float_gguf(folder, tmp_path / f"{folder.name}.F32.gguf")
    converted = _load(gguf)
    np.testing.assert_allclose(_logits(converted), _logits(_load(folder)), atol=2e-4, rtol=1e-4)
    assert converted.name == f"{folder.name}.F32"
    assert converted.context_length == 512


def test_the_tokenizer_and_template_are_the_folders(tiny_model_dir: Path, tmp_path: Path) -> None:
    original = _load(tiny_model_dir).tokenizer
    converted = _load(write_float_gguf(tiny_model_dir, tmp_path / "tiny.gguf")).tokenizer
    for text in TEXTS:
        assert converted.encode(text) == original.encode(text), text
        assert converted.decode(converted.encode(text)) == text
    messages = [{"role": "user", "content": "What is two plus two?"}]
    rendered = [
        t.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        for t in (original, converted)
    ]
    assert rendered[0] == rendered[1]
    assert converted.eos_token_ids == original.eos_token_ids


def _dequantized_folder(gguf: Path, folder: Path, out: Path) -> Path:
    """The folder's model with the weights the GGUF file actually holds, dequantized by
    llama.cpp's own numpy code and permuted back: what the quantized model must compute."""
    from gguf import GGUFReader
    from gguf.quants import dequantize

    from tests.engine.gguf_files import permute

    config = json.loads((folder / "config.json").read_text())
    heads, kv = config["num_attention_heads"], config["num_key_value_heads"]
    stored = {t.name: dequantize(t.data, t.tensor_type) for t in GGUFReader(gguf).tensors}
    shutil.copytree(folder, out)
    original = mx.load(str(folder / "model.safetensors"))
    assert isinstance(original, dict)
    weights = {}
    for name in original:
        value = stored[gguf_name(name)].reshape(original[name].shape)
        if name.endswith("q_proj.weight") or name.endswith("k_proj.weight"):
            n = heads if name.endswith("q_proj.weight") else kv
            # the inverse of permute: the same reshape, swapped back
            value = (
                value.reshape(n, value.shape[0] // n // 2, 2, -1)
                .swapaxes(1, 2)
                .reshape(value.shape)
            )
            assert np.array_equal(permute(value, n), stored[gguf_name(name)].reshape(value.shape))
        weights[name] = mx.array(value.astype(np.float32))
    mx.save_safetensors(str(out / "model.safetensors"), weights, metadata={"format": "mlx"})
    return out


@pytest.mark.parametrize("quant", ["Q4_0", "Q4_1", "Q8_0"])
def test_a_quantized_gguf_computes_what_its_blocks_hold(
    quant: str, gqa_model_dir: Path, tmp_path: Path
) -> None:
    gguf = write_quantized_gguf(gqa_model_dir, tmp_path / f"gqa.{quant}.gguf", quant)
    reference = _dequantized_folder(gguf, gqa_model_dir, tmp_path / "reference")
    loaded = _load(gguf, "quantized")
    layers = dict(loaded.model.named_modules())
    assert isinstance(layers["model.layers.0.self_attn.q_proj"], nn.QuantizedLinear)
    assert layers["model.layers.0.self_attn.q_proj"].bits == (8 if quant == "Q8_0" else 4)
    # MLX keeps each block's scale (and offset) in float16 where llama.cpp's numpy code
    # dequantizes in float32, hence the tolerance.
    np.testing.assert_allclose(_logits(loaded), _logits(_load(reference)), atol=5e-3, rtol=1e-2)


def test_a_q8_embedding_beside_q4_layers_is_described_layer_by_layer(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    gguf = write_quantized_gguf(tiny_model_dir, tmp_path / "mixed.gguf", "Q4_1", embedding="Q8_0")
    loaded = _load(gguf)
    layers = dict(loaded.model.named_modules())
    assert layers["model.embed_tokens"].bits == 8
    assert layers["model.layers.1.mlp.down_proj"].bits == 4
    assert loaded.model(mx.array(TOKENS)).shape == (1, len(TOKENS[0]), loaded.vocab_size)


def test_a_model_too_big_to_unpack_stays_packed_at_float32_precision(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlxfn.engine import weights

    monkeypatch.setattr(weights, "_memory_bytes", lambda: 1024)
    loaded = _load(write_quantized_gguf(tiny_model_dir, tmp_path / "q8.gguf", "Q8_0"), "auto")
    q_proj = dict(loaded.model.named_modules())["model.layers.0.self_attn.q_proj"]
    assert isinstance(q_proj, nn.QuantizedLinear)
    assert q_proj.scales.dtype == mx.float32


def test_the_float32_size_of_a_packed_model_is_what_unpacking_takes(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    from mlxfn.engine.weights import _float32_bytes

    gguf = write_quantized_gguf(tiny_model_dir, tmp_path / "q4.gguf", "Q4_1", embedding="Q8_0")
    packed = _load(gguf, "quantized").model
    unpacked = _load(gguf, "float32").model
    assert _float32_bytes(packed) == 4 * sum(v.size for _, v in tree_flatten(unpacked.parameters()))


@pytest.mark.parametrize("layout", ["float32", "auto"])
def test_weight_layouts_on_the_cpu(
    layout: WeightLayout, tiny_model_dir: Path, tmp_path: Path
) -> None:
    gguf = write_quantized_gguf(tiny_model_dir, tmp_path / "q8.gguf", "Q8_0")
    as_stored = _load(gguf, "quantized")
    loaded = _load(gguf, layout)
    q_proj = dict(loaded.model.named_modules())["model.layers.0.self_attn.q_proj"]
    # a model this small fits a quarter of memory as float32, so auto unpacks it on a CPU
    # (keeping a packed copy for one-row products, engine/matvec.py: a subclass of Linear)
    assert isinstance(q_proj, nn.Linear)
    assert {v.dtype for _, v in tree_flatten(loaded.model.parameters())} == {mx.float32}
    np.testing.assert_allclose(_logits(loaded), _logits(as_stored), atol=2e-3, rtol=1e-2)


def test_a_folder_holding_one_gguf_file_loads_it(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "downloads"
    folder.mkdir()
    write_float_gguf(tiny_model_dir, folder / "tiny.F32.gguf")
    assert _load(folder).name == "downloads"


def test_a_file_is_converted_once_and_found_again_by_its_contents(
    tiny_model_dir: Path, tmp_path: Path, own_cache: Path
) -> None:
    first = write_float_gguf(tiny_model_dir, tmp_path / "a.gguf")
    _load(first)
    converted = {p for p in (own_cache / "gguf").iterdir() if not p.name.startswith(".")}
    copy = tmp_path / "renamed.gguf"
    shutil.copyfile(first, copy)
    config = next(iter(converted)) / "config.json"
    before = config.stat().st_mtime_ns
    assert _load(copy).name == "renamed"
    after = {p for p in (own_cache / "gguf").iterdir() if not p.name.startswith(".")}
    assert after == converted  # same contents, same folder: not converted again
    assert config.stat().st_mtime_ns == before


def test_a_k_quant_file_is_refused_naming_the_type(tiny_model_dir: Path, tmp_path: Path) -> None:
    gguf = write_quantized_gguf(tiny_model_dir, tmp_path / "k.gguf", "Q8_0", embedding="Q4_K")
    failed = _failure(gguf)
    assert "1 Q4_K" in failed.reason
    assert failed.hint is not None
    assert "Q4_0" in failed.hint


def test_an_unsupported_architecture_is_refused_naming_it(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    gguf = write_quantized_gguf(tiny_model_dir, tmp_path / "g.gguf", "F32", architecture="gemma3")
    failed = _failure(gguf)
    assert "'gemma3'" in failed.reason
    assert failed.hint is not None
    assert "--model DIR" in failed.hint


@pytest.mark.parametrize(
    "content",
    [b"", b"GGUF\x03\x00\x00\x00garbage", b"not a gguf file at all"],
    ids=["empty", "truncated", "text"],
)
def test_a_broken_file_is_a_load_failure(content: bytes, tmp_path: Path) -> None:
    gguf = tmp_path / "broken.gguf"
    gguf.write_bytes(content)
    failed = _failure(gguf)
    assert "broken.gguf" in failed.reason


def test_a_missing_file_is_a_load_failure(tmp_path: Path) -> None:
    assert "no such GGUF file" in _failure(tmp_path / "missing.gguf").reason


@pytest.mark.parametrize(
    "name",
    [
        "model.embed_tokens.weight",
        "model.norm.weight",
        "lm_head.weight",
        "model.layers.1.self_attn.k_proj.bias",
    ],
)
def test_tensor_names_round_trip(name: str) -> None:
    assert module_name(gguf_name(name)) == name


@pytest.mark.parametrize("command", ["serve", "info"])
def test_the_cli_names_an_unreadable_type_in_one_line(
    command: str, tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlxfn.cli import main
    from tests.conftest import free_port

    gguf = write_quantized_gguf(tiny_model_dir, tmp_path / "k.gguf", "Q8_0", embedding="Q6_K")
    argv = ["info", str(gguf)] if command == "info" else ["--model", str(gguf)]
    if command == "serve":
        argv += ["--port", str(free_port())]
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert "GGUF tensors MLX cannot read (1 Q6_K)" in lines[0]
    assert "llama-quantize" in lines[0]


def test_a_rope_freqs_tensor_that_is_not_llama3s_is_refused(
    llama3_model_dir: Path, tmp_path: Path
) -> None:
    gguf = write_float_gguf(llama3_model_dir, tmp_path / "odd.gguf")
    weights, metadata = mx.load(str(gguf), return_metadata=True)
    weights["rope_freqs.weight"] = weights["rope_freqs.weight"] * 1.5
    mx.save_gguf(str(gguf), weights, metadata)
    assert "rope_freqs tensor that is not Llama 3's" in _failure(gguf).reason


def _sentencepiece_gguf(out: Path) -> Path:
    """A Llama with a SentencePiece-style vocabulary as llama.cpp stores one (``llama``
    tokenizer model: pieces with "▁" for spaces, scores instead of merges, byte fallback)."""
    from mlx_lm.models import llama

    pieces = ["▁", "h", "e", "l", "o", "w", "r", "d", "el", "lo", "▁h", "or", "ld", "▁w"]
    pieces += ["ello", "▁hello", "orld", "▁world"]
    tokens = ["<unk>", "<s>", "</s>", *(f"<0x{b:02X}>" for b in range(256)), *pieces]
    types = [2, 3, 3, *([6] * 256), *([1] * len(pieces))]
    scores = [0.0, 0.0, 0.0, *([0.0] * 256), *(-float(i) for i in range(len(pieces), 0, -1))]
    config = {
        "model_type": "llama",
        "hidden_size": 64,
        "num_hidden_layers": 1,
        "intermediate_size": 128,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "rms_norm_eps": 1e-5,
        "vocab_size": len(tokens),
        "max_position_embeddings": 256,
        "rope_theta": 10000.0,
        "tie_word_embeddings": True,
    }
    model = llama.Model(llama.ModelArgs.from_dict(config))
    arrays = {gguf_name(k): v for k, v in tree_flatten(model.parameters())}
    metadata: dict[str, Any] = {
        "general.architecture": "llama",
        "llama.context_length": mx.array(256, dtype=mx.uint32),
        "llama.embedding_length": mx.array(64, dtype=mx.uint32),
        "llama.block_count": mx.array(1, dtype=mx.uint32),
        "llama.feed_forward_length": mx.array(128, dtype=mx.uint32),
        "llama.attention.head_count": mx.array(4, dtype=mx.uint32),
        "llama.attention.layer_norm_rms_epsilon": mx.array(1e-5, dtype=mx.float32),
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.scores": mx.array(scores, dtype=mx.float32),
        "tokenizer.ggml.token_type": mx.array(types, dtype=mx.int32),
        "tokenizer.ggml.bos_token_id": mx.array(1, dtype=mx.uint32),
        "tokenizer.ggml.eos_token_id": mx.array(2, dtype=mx.uint32),
        "tokenizer.ggml.unknown_token_id": mx.array(0, dtype=mx.uint32),
    }
    mx.save_gguf(str(out), arrays, metadata)
    return out


def test_a_sentencepiece_style_vocabulary_tokenizes_as_llama_cpp_would(tmp_path: Path) -> None:
    loaded = _load(_sentencepiece_gguf(tmp_path / "spm.gguf"))
    tokenizer = loaded.tokenizer
    ids = tokenizer.encode("hello world")
    assert tokenizer.convert_ids_to_tokens(ids) == ["<s>", "▁hello", "▁world"]  # BOS, as llama.cpp
    assert tokenizer.decode(ids, skip_special_tokens=True) == "hello world"
    accented = tokenizer.encode("hé", add_special_tokens=False)  # é is not a piece: its bytes
    assert tokenizer.convert_ids_to_tokens(accented) == ["▁h", "<0xC3>", "<0xA9>"]
    assert tokenizer.decode(accented) == "hé"
    assert loaded.eos_token_ids == frozenset({2})
