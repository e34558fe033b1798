"""Why one sequence decodes far below what memory bandwidth allows, in-process.

A decode step of one sequence reads every weight once, so its floor is the weights' bytes over
the machine's streaming bandwidth. This prints that floor, the step MLX actually takes, and
what the step is made of: each weight's matrix product as MLX runs it (``x @ w.T`` with one
row, which MLX hands to ``cblas_sgemm`` with M=1), the same product through the BLAS's
``cblas_sgemm`` and ``cblas_sgemv`` called directly, how many operations a step's graph holds
and what each costs; and, to weigh another BLAS against it, a 16-sequence decode step and a
1024-token prefill.

    python -m benchmarks.decode_anatomy benchmarks/.models/<model folder> [--cblas PATH]

``--cblas`` names the library to call directly (default: the OpenBLAS mlxfn loaded). To run
MLX itself on another BLAS, preload it and turn mlxfn's off:
``MLXFN_FAST_BLAS=0 LD_PRELOAD=/usr/lib/x86_64-linux-gnu/blis-pthread/libblis.so.4``.
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import io
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# isort: off
import mlxfn.engine  # noqa: F401  first: it loads the fast BLAS, which must precede `import mlx`

# isort: on
import mlx.core as mx
import numpy as np
from mlx.utils import tree_flatten
from mlx_lm import load
from mlx_lm.models.cache import make_prompt_cache

from mlxfn.platform.blas import BlasLoaded, preload_fast_blas

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


def median_ms(run: Callable[[], object], repeats: int = 40) -> float:
    for _ in range(3):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def _cblas(path: str) -> ctypes.CDLL:
    lib = ctypes.CDLL(path)
    p, i, f = ctypes.c_void_p, ctypes.c_int, ctypes.c_float
    lib.cblas_sgemm.argtypes = [i, i, i, i, i, i, f, p, i, p, i, f, p, i]
    lib.cblas_sgemv.argtypes = [i, i, i, i, f, p, i, p, i, f, p, i]
    return lib


def streaming_bandwidth(lib: ctypes.CDLL) -> float:
    """GB/s of a matrix-vector product over 512 MB: about the best a weight read can do."""
    matrix = np.ones((131072, 1024), dtype=np.float32)
    vector = np.ones(1024, dtype=np.float32)
    out = np.empty(131072, dtype=np.float32)

    def run() -> None:
        lib.cblas_sgemv(
            _ROW_MAJOR, _NO_TRANS, 131072, 1024, 1.0, matrix.ctypes.data, 1024,
            vector.ctypes.data, 1, 0.0, out.ctypes.data, 1,
        )  # fmt: skip

    return matrix.nbytes / median_ms(run, 5) / 1e6


def product_row(lib: ctypes.CDLL, name: str, rows: int, cols: int, count: int) -> list[float]:
    """One weight shape: MLX's ``x @ w.T``, then cblas sgemm (M=1) and sgemv, in µs."""
    weight = mx.random.normal((rows, cols))
    x = mx.random.normal((1, cols))
    mx.eval(weight, x)
    w, v = np.array(weight), np.array(x)
    out = np.empty(rows, dtype=np.float32)

    def gemm() -> None:
        lib.cblas_sgemm(
            _ROW_MAJOR, _NO_TRANS, _TRANS, 1, rows, cols, 1.0, v.ctypes.data, cols,
            w.ctypes.data, cols, 0.0, out.ctypes.data, rows,
        )  # fmt: skip

    def gemv() -> None:
        lib.cblas_sgemv(
            _ROW_MAJOR, _NO_TRANS, rows, cols, 1.0, w.ctypes.data, cols, v.ctypes.data, 1,
            0.0, out.ctypes.data, 1,
        )  # fmt: skip

    mlx_us = median_ms(lambda: mx.eval(x @ weight.T)) * 1e3
    gemm_us, gemv_us = median_ms(gemm) * 1e3, median_ms(gemv) * 1e3
    print(
        f"| {name} ({rows}x{cols}) | {count} | {mlx_us:.0f} | {gemm_us:.0f} | {gemv_us:.0f} "
        f"| {gemm_us / gemv_us:.1f}x |"
    )
    return [count * mlx_us, count * gemm_us, count * gemv_us]


def step_ops(model: Any) -> collections.Counter[str]:
    """The operations in one decode step's graph, by primitive (from MLX's DOT export)."""
    cache = make_prompt_cache(model)
    mx.eval(model(mx.array([list(range(100, 120))]), cache=cache))
    dot = io.StringIO()
    mx.export_to_dot(dot, model(mx.array([[5]]), cache=cache))
    return collections.Counter(re.findall(r'label ="(\w+)", shape=rectangle', dot.getvalue()))


def time_model(model: Any) -> tuple[float, float, float, float]:
    """ms: a one-sequence decode step, the same without the LM head, 16 sequences, a prefill."""
    cache = make_prompt_cache(model)
    mx.eval(model(mx.array([list(range(100, 120))]), cache=cache))
    token = mx.array([[5]])
    step_ms = median_ms(lambda: mx.eval(model(token, cache=cache)), 60)
    trunk_ms = median_ms(lambda: mx.eval(model.model(token, cache=cache)), 60)
    batch = make_prompt_cache(model)
    mx.eval(model(mx.array([list(range(100, 120))] * 16), cache=batch))
    tokens = mx.array([[5]] * 16)
    batch_ms = median_ms(lambda: mx.eval(model(tokens, cache=batch)), 30)
    prompt = mx.array([list(range(100, 1124))])

    def prefill() -> None:
        fresh = make_prompt_cache(model)
        for start in range(0, 1024, 512):
            mx.eval(model(prompt[:, start : start + 512], cache=fresh))

    prefill_ms = median_ms(prefill, 3)
    return step_ms, trunk_ms, batch_ms, prefill_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--cblas", help="the BLAS library to call directly")
    args = parser.parse_args()
    choice = preload_fast_blas()
    path = args.cblas or (choice.path if isinstance(choice, BlasLoaded) else None)
    if path is None:
        raise SystemExit("no BLAS to call directly: give --cblas PATH")
    lib = _cblas(path)
    model, _ = load(str(args.model))
    config = model.args
    hidden, inter, vocab = config.hidden_size, config.intermediate_size, config.vocab_size
    layers, heads = config.num_hidden_layers, config.num_attention_heads
    kv = config.num_key_value_heads * hidden // heads
    weight_bytes = sum(a.nbytes for _, a in tree_flatten(model.parameters()))

    bandwidth = streaming_bandwidth(lib)
    step_ms, trunk_ms, batch_ms, prefill_ms = time_model(model)
    floor_ms = weight_bytes / bandwidth / 1e6
    print(f"BLAS called directly: {path}; MLX's BLAS: {choice}")
    print(f"weights {weight_bytes / 1e6:.0f} MB; streaming bandwidth {bandwidth:.1f} GB/s")
    print(f"floor {floor_ms:.1f} ms/token ({1e3 / floor_ms:.0f} tok/s)")
    print(
        f"decode step {step_ms:.1f} ms ({1e3 / step_ms:.0f} tok/s); "
        f"without the LM head {trunk_ms:.1f} ms"
    )
    print(f"16-sequence decode step {batch_ms:.1f} ms; 1024-token prefill {prefill_ms:.0f} ms")
    print()
    print(
        "| weight | per step | MLX x @ w.T (µs) | cblas_sgemm M=1 (µs) | cblas_sgemv (µs) "
        "| sgemm ÷ sgemv |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    shapes = [
        ("q, o", hidden, hidden, 2 * layers),
        ("k, v", kv, hidden, 2 * layers),
        ("gate, up", inter, hidden, 2 * layers),
        ("down", hidden, inter, layers),
        ("LM head", vocab, hidden, 1),
    ]
    totals = np.sum([product_row(lib, *shape) for shape in shapes], axis=0) / 1e3
    print(
        f"| all products, one step | | {totals[0]:.1f} ms | {totals[1]:.1f} ms "
        f"| {totals[2]:.1f} ms | |"
    )
    small = mx.ones((1, hidden))
    mx.eval(small)

    def chain() -> None:
        out = small
        for _ in range(100):
            out = out * 1.0001
        mx.eval(out)

    op_us = median_ms(chain, 20) * 10
    ops = step_ops(model)
    count = sum(ops.values())
    print()
    print(f"MLX small op: {op_us:.1f} µs each in a chain of 100")
    print(f"the step less its products (MLX timing): {step_ms - totals[0]:.1f} ms")
    print(
        f"a step's graph: {count} operations ({ops['Matmul']} matmuls), "
        f"{count * op_us / 1e3:.1f} ms at {op_us:.1f} µs each; most common: {ops.most_common(8)}"
    )


if __name__ == "__main__":
    main()
