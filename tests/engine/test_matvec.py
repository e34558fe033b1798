"""The native quantized kernel (engine/matvec.py, engine/kernels/qmatvec.c) against MLX's own."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import mlxfn.engine  # noqa: F401  first: the fast BLAS precedes `import mlx`
from mlxfn.engine import matvec

tree_flatten = pytest.importorskip("mlx.utils").tree_flatten

mx = pytest.importorskip("mlx.core")
nn = pytest.importorskip("mlx.nn")
np = pytest.importorskip("numpy")

needs_kernel = pytest.mark.skipif(matvec.kernel() is None, reason="no C compiler: no native kernel")


def _reference(x: Any, q: tuple[Any, Any, Any], bits: int) -> Any:
    w, s, b = q
    return np.array(mx.quantized_matmul(x, w, s, b, transpose=True, group_size=32, bits=bits))


def _shapes() -> list[tuple[int, int, int, int]]:
    # (bits, rows, n, k): k=96 and 160 end on a lone group, the 4-bit kernel's tail
    return [
        (b, m, n, k)
        for b in (4, 8)
        for m in (1, 3, 16)
        for n, k in ((67, 96), (130, 160), (64, 576))
    ]


def _qmv(library: Any, bits: int, x: Any, q: tuple[Any, Any, Any], threads: int) -> Any:
    w, s, b = q
    rows, k = x.shape
    y = np.zeros((rows, w.shape[0]), np.float32)
    status = library.mlxfn_qmv(
        bits, np.asarray(x).ctypes.data, rows, k, np.asarray(w).ctypes.data,
        np.asarray(s).ctypes.data, np.asarray(b).ctypes.data, w.shape[0], y.ctypes.data, threads,
    )  # fmt: skip
    assert status == 0
    return y


def _library(path: Path) -> Any:
    library = ctypes.CDLL(str(path))
    p, i = ctypes.c_void_p, ctypes.c_int
    library.mlxfn_qmv.argtypes = [i, p, i, i, p, p, p, i, p, i]
    return library


def _case(bits: int, rows: int, n: int, k: int) -> tuple[Any, tuple[Any, Any, Any]]:
    mx.random.seed(rows * 1000 + n + bits)
    x = mx.random.normal((rows, k))
    q = mx.quantize(mx.random.normal((n, k)), group_size=32, bits=bits)
    mx.eval(x, q)
    return x, q


@needs_kernel
@pytest.mark.parametrize(("bits", "rows", "n", "k"), _shapes())
@pytest.mark.parametrize("threads", [1, 2])
def test_kernel_matches_quantized_matmul(
    bits: int, rows: int, n: int, k: int, threads: int
) -> None:
    found = matvec.kernel()
    assert found is not None
    x, q = _case(bits, rows, n, k)
    expected = _reference(x, q, bits)
    got = _qmv(_library(found.path), bits, x, q, threads)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * float(np.abs(expected).max()))


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_plain_c_loops_match_too(tmp_path: Path) -> None:
    """Built without AVX2 and FMA, the file's plain loops give the same products."""
    path = tmp_path / "plain.so"
    subprocess.run(
        ["cc", "-O2", "-mno-avx2", "-mno-fma", "-shared", "-fPIC", "-std=c11", "-pthread",
         "-o", str(path), str(matvec.SOURCE)],
        check=True,
    )  # fmt: skip
    library = _library(path)
    assert ctypes.CDLL(str(path)).mlxfn_qmv_simd() == 0
    for bits, rows, n, k in _shapes():
        x, q = _case(bits, rows, n, k)
        expected = _reference(x, q, bits)
        np.testing.assert_allclose(
            _qmv(library, bits, x, q, 1),
            expected,
            rtol=1e-4,
            atol=1e-4 * float(np.abs(expected).max()),
        )


def _how_to_quantize(path: str, module: Any) -> Any:
    """The embedding at 8 bits (as the default model's Q8_0), the rest at 4."""
    if isinstance(module, nn.Embedding):
        return {"group_size": 32, "bits": 8}
    return hasattr(module, "to_quantized")


def _tiny_llama(seed: int) -> Any:
    from mlx_lm.models.llama import Model, ModelArgs

    args = ModelArgs(
        model_type="llama", hidden_size=96, num_hidden_layers=2, intermediate_size=160,
        num_attention_heads=3, num_key_value_heads=1, rms_norm_eps=1e-5, vocab_size=300,
        tie_word_embeddings=True, head_dim=32,
    )  # fmt: skip
    mx.random.seed(seed)
    model = Model(args)
    nn.quantize(
        model, group_size=32, bits=4,
        class_predicate=_how_to_quantize,
    )  # fmt: skip
    mx.eval(model.parameters())
    return model


def _logits(model: Any, tokens: list[int], steps: int) -> list[Any]:
    """Prefill on `tokens`, then `steps` greedy decode steps: every step's logits."""
    from mlx_lm.models.cache import make_prompt_cache

    cache = make_prompt_cache(model)
    logits = model(mx.array(tokens)[None], cache=cache)
    seen = [np.array(logits[0])]
    for _ in range(steps):
        token = mx.argmax(logits[:, -1, :], axis=-1)
        logits = model(token[:, None], cache=cache)
        seen.append(np.array(logits[0]))
    return seen


@needs_kernel
def test_native_layout_gives_the_same_logits_as_mlx() -> None:
    from mlxfn.engine.weights import apply_layout

    reference = _tiny_llama(seed=3)
    native = apply_layout(_tiny_llama(seed=3), "native")
    turned = [
        m
        for _, m in native.named_modules()
        if isinstance(m, (matvec.FastQuantizedLinear, matvec.FastQuantizedEmbedding))
    ]
    assert len(turned) == 2 * 7 + 1  # every projection, and the embedding (the tied LM head)
    # 18 rows: the prefill dequantizes
    tokens = [5, 17, 42, 99, 7, 250, 3, 3, 64, 120, 11, 19, 200, 1, 2, 8, 9, 77]  # fmt: skip
    want, got = _logits(reference, tokens, 8), _logits(native, tokens, 8)
    for expected, actual in zip(want, got, strict=True):
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)
        assert (actual.argmax(-1) == expected.argmax(-1)).all()
    short = _logits(native, tokens[:4], 2)  # a prompt of a few rows takes the kernel too
    for expected, actual in zip(_logits(reference, tokens[:4], 2), short, strict=True):
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)


def test_without_the_kernel_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(matvec.ENV_VAR, "0")
    matvec.kernel.cache_clear()
    try:
        assert matvec.kernel() is None
        model = _tiny_llama(seed=4)
        assert matvec.install_fast_products(model) == 0
        assert not any(isinstance(m, matvec.FastQuantizedLinear) for _, m in model.named_modules())
    finally:
        monkeypatch.delenv(matvec.ENV_VAR)
        matvec.kernel.cache_clear()


@needs_kernel
def test_auto_on_the_cpu_unpacks_and_keeps_packed_copies_for_one_row() -> None:
    from mlxfn.engine.weights import apply_layout

    reference = _tiny_llama(seed=5)
    auto = apply_layout(_tiny_llama(seed=5), "auto")
    layers = dict(auto.named_modules())
    assert type(layers["model.layers.0.mlp.down_proj"]) is matvec.FastLinear
    assert type(layers["model.embed_tokens"]) is matvec.FastEmbedding
    dtypes = {v.dtype for _, v in tree_flatten(auto.parameters())}
    assert dtypes == {mx.float32}  # the packed copies are no parameters
    tokens = [5, 17, 42, 99, 7, 250, 3, 3, 64, 120]
    for expected, actual in zip(
        _logits(reference, tokens, 6), _logits(auto, tokens, 6), strict=True
    ):
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)
        assert (actual.argmax(-1) == expected.argmax(-1)).all()


@needs_kernel
@pytest.mark.parametrize("layout", ["auto", "native"])
def test_fast_blocks_give_the_same_logits(layout: str) -> None:
    from mlxfn.engine.decode_block import FastBlock, install_fast_blocks
    from mlxfn.engine.weights import apply_layout

    reference = _tiny_llama(seed=6)
    fast = apply_layout(_tiny_llama(seed=6), layout)  # type: ignore[arg-type]
    assert install_fast_blocks(fast) == 0  # the layout has turned them already
    assert sum(isinstance(m, FastBlock) for _, m in fast.named_modules()) == 2
    tokens = [5, 17, 42, 99, 7, 250, 3, 3, 64, 120]
    for expected, actual in zip(
        _logits(reference, tokens, 6), _logits(fast, tokens, 6), strict=True
    ):
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)
        assert (actual.argmax(-1) == expected.argmax(-1)).all()


@needs_kernel
def test_the_packed_copies_bytes_are_counted() -> None:
    from mlxfn.engine.weights import apply_layout

    model = _tiny_llama(seed=7)
    packed = sum(v.nbytes for _, v in tree_flatten(model.parameters()) if v.dtype == mx.uint32)
    auto = apply_layout(model, "auto")
    assert matvec.packed_copy_bytes(auto) > packed  # the weights, and their float32 scales
    assert matvec.packed_copy_bytes(apply_layout(_tiny_llama(seed=7), "float32")) == 0
