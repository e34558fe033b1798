"""Checks that a BLAS multiplies right: ``check_sgemm`` tries a library's ``cblas_sgemm`` on
exact integer products before it is let near MLX, and ``verify_blas`` compares ``mx.matmul``
with a float64 numpy product once MLX is imported; ``blas_provider`` names the library MLX
binds to."""

from __future__ import annotations

import array
import ctypes
import ctypes.util
import itertools
import math
import operator
import os
import sys
import time
from typing import Final

from mlxfn.platform.blas_choice import BlasCheck

# CBLAS enum values (cblas.h).
_ROW_MAJOR: Final = 101
_NO_TRANS: Final = 111
_TRANS: Final = 112

# A float32 matmul of standard-normal matrices lands near 1e-7 relative (Frobenius) error; a
# wrong layout, a wrong integer width or garbage lands near 1. 1e-5 sits far from both.
DEFAULT_TOLERANCE: Final = 1e-5


def check_sgemm(lib: ctypes.CDLL, m: int = 131, n: int = 137, k: int = 149) -> str | None:
    """Check ``lib``'s ``cblas_sgemm`` in the row-major layouts MLX uses; ``None`` if right.

    The entries are small integers, so every product is exact in float32 and must match
    exactly. All entries are checked at O(n²) cost with Freivalds' test (``C @ x == A @ (B @ x)``
    for two vectors ``x`` without zeros). Odd sizes cross the kernels' block edges and are past
    OpenBLAS's small-matrix and single-thread limits; one row is the shape of a decoded token.
    """
    sgemm = lib.cblas_sgemm
    sgemm.restype = None
    floats = ctypes.POINTER(ctypes.c_float)
    ints = [ctypes.c_int] * 6
    sgemm.argtypes = [*ints, ctypes.c_float, floats, ctypes.c_int, floats, ctypes.c_int]
    sgemm.argtypes += [ctypes.c_float, floats, ctypes.c_int]
    a = [[(i + 2 * p) % 7 - 3 for p in range(k)] for i in range(m)]
    b = [[(3 * p + j) % 5 - 2 for j in range(n)] for p in range(k)]
    probes = ([j % 5 + 1 for j in range(n)], [(-1) ** j * (j % 3 + 1) for j in range(n)])
    expected = []
    for x in probes:
        bx = [sum(map(operator.mul, row, x)) for row in b]
        expected.append((x, [sum(map(operator.mul, row, bx)) for row in a]))
    for rows, trans_a, trans_b in (
        (m, False, False),
        (m, False, True),
        (m, True, False),
        (1, False, True),
    ):
        a_used = a[:rows]
        a_buf = _float_buffer(_transpose(a_used) if trans_a else a_used)
        b_buf = _float_buffer(_transpose(b) if trans_b else b)
        c = array.array("f", bytes(4 * rows * n))
        sgemm(
            _ROW_MAJOR,
            _TRANS if trans_a else _NO_TRANS,
            _TRANS if trans_b else _NO_TRANS,
            rows,
            n,
            k,
            1.0,
            a_buf,
            rows if trans_a else k,
            b_buf,
            k if trans_b else n,
            0.0,
            (ctypes.c_float * len(c)).from_buffer(c),
            n,
        )
        for x, want in expected:
            got = [sum(map(operator.mul, c[i * n : (i + 1) * n], x)) for i in range(rows)]
            if got != want[:rows]:
                layout = f"{rows}x{k}{'T' if trans_a else ''} @ {k}x{n}{'T' if trans_b else ''}"
                wrong = sum(g != w for g, w in zip(got, want, strict=False))
                return f"{layout} is wrong in {wrong} of {rows} rows"
    return None


def _transpose(rows: list[list[int]]) -> list[list[int]]:
    return [list(col) for col in zip(*rows, strict=True)]


def _float_buffer(rows: list[list[int]]) -> ctypes.Array[ctypes.c_float]:
    flat = array.array("f", itertools.chain.from_iterable(rows))
    return (ctypes.c_float * len(flat)).from_buffer(flat)


def blas_provider() -> str:
    """The library whose ``cblas_sgemm`` an MLX imported now binds to, as a path or a phrase.

    MLX binds to a global definition when there is one (ours, or one from ``LD_PRELOAD``), and
    otherwise to the BLAS it ships. A global library loaded only after ``import mlx`` is
    named here but unused; ``preload_fast_blas`` never loads one that late.
    """
    if sys.platform != "linux":
        return "MLX's Accelerate or Metal backend"
    process = ctypes.CDLL(None)  # dlopen(NULL): lookups search the global scope only
    try:
        address = ctypes.cast(process.cblas_sgemm, ctypes.c_void_p).value
        dladdr = process.dladdr
    except AttributeError:
        return "the reference BLAS bundled with mlx"
    info = _DlInfo()
    dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
    dladdr.restype = ctypes.c_int
    if not dladdr(address, ctypes.byref(info)) or info.dli_fname is None:
        return "a global cblas_sgemm in an unknown library"
    return os.fsdecode(info.dli_fname)


class _DlInfo(ctypes.Structure):
    _fields_ = (
        ("dli_fname", ctypes.c_char_p),
        ("dli_fbase", ctypes.c_void_p),
        ("dli_sname", ctypes.c_char_p),
        ("dli_saddr", ctypes.c_void_p),
    )


def verify_blas(
    *, size: int = 256, tolerance: float = DEFAULT_TOLERANCE, measure: bool = False
) -> BlasCheck:
    """Compare ``mx.matmul`` with a float64 numpy product on fixed random matrices.

    Three shapes MLX meets in a transformer: ``A @ B``, ``A @ B.T`` (a Linear layer) and a
    single row times ``B.T`` (one decoded token). ``relative_error`` is the worst Frobenius
    relative error of the three. ``measure`` adds the GFLOP/s of a 512 x 512 float32 matmul
    (median of 5). Runs on the calling thread's default MLX stream; a caller whose check
    fails must not serve.
    """
    import mlx.core as mx
    import numpy as np

    rng = np.random.default_rng(20240611)
    a = rng.standard_normal((size, size)).astype(np.float32)
    b = rng.standard_normal((size, size)).astype(np.float32)
    a_mx, b_mx = mx.array(a), mx.array(b)
    cases = ((a_mx, b_mx, a, b), (a_mx, b_mx.T, a, b.T), (a_mx[:1], b_mx.T, a[:1], b.T))
    errors = []
    for left_mx, right_mx, left, right in cases:
        got = np.array(mx.matmul(left_mx, right_mx), dtype=np.float64)
        want = left.astype(np.float64) @ right.astype(np.float64)
        errors.append(float(np.linalg.norm(got - want) / np.linalg.norm(want)))
    worst = math.nan if any(math.isnan(e) for e in errors) else max(errors)
    return BlasCheck(
        provider=blas_provider(),
        relative_error=worst,
        tolerance=tolerance,
        gflops=_measure_gflops() if measure else None,
    )


def _measure_gflops(size: int = 512, repeats: int = 5) -> float:
    import mlx.core as mx

    a = mx.random.normal((size, size), key=mx.random.key(0))
    b = mx.random.normal((size, size), key=mx.random.key(1))
    mx.eval(a, b, mx.matmul(a, b))  # and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        mx.eval(mx.matmul(a, b))
        times.append(time.perf_counter() - start)
    times.sort()
    return 2 * size**3 / times[len(times) // 2] / 1e9
