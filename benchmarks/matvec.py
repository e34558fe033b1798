"""One-row products and one-sequence decode of the default model, per weight layout, in-process.

Part 1, products: for each of SmolLM2-135M's weight shapes (576x576, 192x576, 1536x576,
576x1536 and the 49152x576 LM head), one row times the weight, as

- ``f32 x@W.T``: float32, as MLX runs a ``Linear`` (``cblas_sgemm`` with M=1);
- ``f32 W@x``: the same product as a matrix times a column (sgemm with N=1);
- ``f32 addmm``: ``mx.addmm(0, x, W.T)``;
- ``f32 sgemv``: the BLAS's ``cblas_sgemv``, called directly with ctypes (what a gemv would do);
- ``mlx q4`` / ``mlx q8``: MLX's CPU ``quantized_matmul`` (affine, group 32);
- ``native q4`` / ``native q8``: mlxfn's kernel (``mlxfn/engine/matvec.py``), on 1 and 2 threads.

Each is timed alone, with ``mx.eval`` (or the call) inside the timing, median of ``--repeats``;
rounds interleave the variants.

Part 2, decode: the default model (``mlxfn.default_model_spec()``) loaded once per ``--layouts``
entry (``--weights`` layouts: ``quantized`` as stored, ``float32``, ``native``, ``auto``), then
greedy decode steps after a short prompt (``model(token, cache)``, argmax, ``mx.eval``: mlx-lm's
step, no engine), one step of each layout in turn; also whether each picks the same tokens as
``quantized``. (A ``float32`` model in the same process slows the others' steps: OpenBLAS's
threads spin after each product. ``benchmarks.gguf_layouts`` runs each layout in its own
process, through the engine.)

    python -m benchmarks.matvec [--rounds 3] [--repeats 30] [--steps 64] [--layouts ...]
        [--skip-products] [--skip-decode]
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import time
from collections.abc import Callable
from typing import Any

# isort: off
import mlxfn.engine  # noqa: F401  first: it loads the fast BLAS, which must precede `import mlx`

# isort: on
import mlx.core as mx
import numpy as np

from mlxfn.engine import matvec
from mlxfn.platform.blas import BlasLoaded, preload_fast_blas

SHAPES = [(576, 576), (192, 576), (1536, 576), (576, 1536), (49152, 576)]
_ROW_MAJOR, _NO_TRANS = 101, 111


def median_us(run: Callable[[], object], repeats: int) -> float:
    for _ in range(3):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def _sgemv() -> Any:
    choice = preload_fast_blas()
    if not isinstance(choice, BlasLoaded):
        return None
    lib = ctypes.CDLL(choice.path)
    p, i, f = ctypes.c_void_p, ctypes.c_int, ctypes.c_float
    lib.cblas_sgemv.argtypes = [i, i, i, i, f, p, i, p, i, f, p, i]
    return lib


def product_variants(rows: int, cols: int) -> dict[str, Callable[[], object]]:
    w = mx.random.normal((rows, cols)) / cols**0.5
    x = mx.random.normal((1, cols))
    col = x.reshape(cols, 1)
    wt = w.T
    zero = mx.zeros((1, rows))
    q = {bits: mx.quantize(w, group_size=32, bits=bits) for bits in (4, 8)}
    mx.eval(w, x, col, zero, q)
    variants: dict[str, Callable[[], object]] = {
        "f32 x@W.T": lambda: mx.eval(x @ wt),
        "f32 W@x": lambda: mx.eval(w @ col),
        "f32 addmm": lambda: mx.eval(mx.addmm(zero, x, wt)),
    }
    if (lib := _sgemv()) is not None:
        wn, xn, yn = np.asarray(w), np.asarray(x), np.empty(rows, np.float32)

        def gemv() -> None:
            lib.cblas_sgemv(
                _ROW_MAJOR, _NO_TRANS, rows, cols, 1.0, wn.ctypes.data, cols,
                xn.ctypes.data, 1, 0.0, yn.ctypes.data, 1,
            )  # fmt: skip

        variants["f32 sgemv"] = gemv
    for bits, (qw, qs, qb) in q.items():

        def mlx_q(qw: Any = qw, qs: Any = qs, qb: Any = qb, bits: int = bits) -> None:
            mx.eval(mx.quantized_matmul(x, qw, qs, qb, transpose=True, group_size=32, bits=bits))

        variants[f"mlx q{bits}"] = mlx_q
    found = matvec.kernel()
    if found is not None:
        y = np.empty((1, rows), np.float32)
        for bits, (qw, qs, qb) in q.items():
            for threads in (1, 2):

                def native(q: Any = (qw, qs, qb), bits: int = bits, t: int = threads) -> None:
                    found.qmv(x, q, y, bits=bits, threads=t)

                variants[f"native q{bits} {threads}t"] = native
    return variants


def products(rounds: int, repeats: int) -> None:
    table: dict[tuple[int, int], dict[str, list[float]]] = {}
    built = {shape: product_variants(*shape) for shape in SHAPES}
    for _ in range(rounds):
        for shape, variants in built.items():
            for name, run in variants.items():
                table.setdefault(shape, {}).setdefault(name, []).append(median_us(run, repeats))
    names = list(next(iter(built.values())))
    print("| weight (rows x cols) | " + " | ".join(names) + " |")
    print("| --- " * (len(names) + 1) + "|")
    for (rows, cols), cells in table.items():
        values = [f"{statistics.median(cells[n]):.0f}" for n in names]
        print(f"| {rows}x{cols} | " + " | ".join(values) + " |")
    print("(µs, median of rounds; each round the median of", repeats, "calls)")


def load_layout(layout: str) -> Any:
    from mlx_lm import load

    from mlxfn.effects import run_io
    from mlxfn.engine.loader import _location, default_model_spec
    from mlxfn.engine.weights import apply_layout

    location = run_io(_location(default_model_spec())).unwrap()
    model, tokenizer = load(location)[:2]
    return apply_layout(model, layout), tokenizer  # type: ignore[arg-type]


def decoding(steps: int, layouts: list[str]) -> None:
    """Each layout's model with its own cache, one decode step each in turn, ``steps`` times:
    a burst of load on the shared cores hits every layout alike. Medians of the step times."""
    from mlx_lm.models.cache import make_prompt_cache

    models = {layout: load_layout(layout) for layout in layouts}
    tokenizer = next(iter(models.values()))[1]
    prompt = mx.array(tokenizer.encode("Tell me a long story about a dog who learns to sail."))
    state: dict[str, tuple[Any, Any]] = {}
    for layout, (model, _) in models.items():
        cache = make_prompt_cache(model)
        token = mx.argmax(model(prompt[None], cache=cache)[:, -1, :], axis=-1)
        mx.eval(token)
        state[layout] = (cache, token)
    times: dict[str, list[float]] = {layout: [] for layout in layouts}
    tokens: dict[str, list[int]] = {layout: [] for layout in layouts}
    for _ in range(steps):
        for layout, (model, _) in models.items():
            cache, token = state[layout]
            start = time.perf_counter()
            token = mx.argmax(model(token[:, None], cache=cache)[:, -1, :], axis=-1)
            mx.eval(token)
            times[layout].append(time.perf_counter() - start)
            tokens[layout].append(int(np.asarray(token)[0]))
            state[layout] = (cache, token)
    print("| layout | decode step ms (median) | tok/s | quartiles ms | same tokens as quantized |")
    print("| --- | --- | --- | --- | --- |")
    for layout, values in times.items():
        median = statistics.median(values)
        low, _, high = statistics.quantiles(values, n=4)
        same = tokens[layout] == tokens.get("quantized", tokens[layout])
        print(
            f"| {layout} | {median * 1e3:.1f} | {1 / median:.1f} | "
            f"{low * 1e3:.1f}-{high * 1e3:.1f} | {same} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--steps", type=int, default=64, help="decode steps per layout")
    parser.add_argument("--skip-products", action="store_true")
    parser.add_argument("--skip-decode", action="store_true")
    parser.add_argument("--layouts", default="quantized,native,auto")
    args = parser.parse_args()
    found = matvec.kernel()
    print("native kernel:", found.path if found else None, "simd:", found.simd if found else None)
    if not args.skip_products:
        products(args.rounds, args.repeats)
    if not args.skip_decode:
        decoding(args.steps, args.layouts.split(","))


if __name__ == "__main__":
    main()
