"""Fast products of a few rows with quantized weights on the CPU: a native kernel, built on use.

MLX's CPU ``quantized_matmul`` multiplies one row by a 4-bit 1536x576 weight in ~0.9 ms, about
0.7 GB/s; a decode step of SmolLM2-135M makes 211 such products. ``kernels/qmatvec.c`` does the
same product in float32 with AVX2 (the weight read once, ~10 GB/s on two threads; BENCHMARKS.md,
"A native quantized matvec"). It is compiled here on first use, with the machine's C compiler,
into mlxfn's cache (``mlxfn/platform/cache_dir.py``), and called through ctypes on evaluated
arrays: so each product ends MLX's lazy graph (an ``mx.eval`` of its input) and starts a new
one from its result.

``install_fast_products(model)`` turns a model's affine-quantized ``QuantizedLinear`` and
``QuantizedEmbedding`` layers (group size 32, 4 or 8 bits) into the subclasses below, with
float32 scales and biases: products of up to ``MAX_KERNEL_ROWS`` rows go to the kernel, larger
ones (prefill) dequantize the weight and multiply in float32 (sgemm), which is far faster on a
CPU than MLX's quantized kernel. Without a compiler, with ``MLXFN_NATIVE=0``, or when the
library does not load, nothing is changed and ``kernel()`` is ``None``: the model keeps MLX's
own quantized products. This is a shell module: it runs a compiler and loads a library.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from functools import cache
from pathlib import Path
from typing import Any, Final

from mlxfn.platform.cache_dir import cache_root

log = logging.getLogger("mlxfn.engine.matvec")

ENV_VAR: Final = "MLXFN_NATIVE"
THREADS_ENV_VAR: Final = "MLXFN_NATIVE_THREADS"
SOURCE: Final = Path(__file__).with_name("kernels") / "qmatvec.c"
KERNEL_VERSION: Final = 5  # mlxfn_qmv_version() of the source this module expects
MAX_KERNEL_ROWS: Final = 16  # the kernel takes up to this many rows (the C file's MAX_ROWS)
_FLAGS: Final = ("-O3", "-march=native", "-shared", "-fPIC", "-std=c11", "-pthread")
_OFF: Final = frozenset({"0", "false", "no", "off"})
_GROUP: Final = 32
_build_lock = threading.Lock()


def _cpu_key() -> str:
    """What -march=native depends on: the machine and its CPU's flags."""
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features", "model name")):
                flags += line
    except OSError:
        pass
    return platform.machine() + flags


def _compiler() -> str | None:
    for candidate in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def library_path(compiler: str) -> Path:
    key = hashlib.sha256()
    for part in (
        SOURCE.read_bytes(),
        compiler.encode(),
        " ".join(_FLAGS).encode(),
        _cpu_key().encode(),
    ):
        key.update(part)
    return cache_root() / "kernels" / key.hexdigest()[:16] / "libmlxfn_qmv.so"


def build(compiler: str) -> Path:
    """The compiled library in the cache, compiling it first if it is not there."""
    target = library_path(compiler)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        built = Path(scratch) / target.name
        subprocess.run(
            [compiler, *_FLAGS, "-o", str(built), str(SOURCE)],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        os.replace(built, target)  # atomic: a concurrent build wins or loses whole
    return target


class Kernel:
    """The loaded library: ``qmv`` multiplies evaluated numpy-compatible buffers."""

    def __init__(self, library: ctypes.CDLL, path: Path) -> None:
        p, i = ctypes.c_void_p, ctypes.c_int
        library.mlxfn_qmv.argtypes = [i, p, i, i, p, p, p, i, p, i]
        library.mlxfn_qmv.restype = i
        library.mlxfn_qmv_simd.restype = i
        self.path = path
        self.simd = bool(library.mlxfn_qmv_simd())
        self.threads = threads_to_use()
        self._qmv = library.mlxfn_qmv

    def qmv(
        self, x: Any, quantized: tuple[Any, Any, Any], y: Any, *, bits: int, threads: int = 0
    ) -> None:
        """``y[:] = x @ W.T``: x (rows, k) float32, ``quantized`` (weight, scales, biases) as
        ``mx.quantize`` makes them with float32 scales, y a numpy (rows, n) float32 array;
        all contiguous and evaluated. ``threads`` 0: ``self.threads``."""
        import numpy as np

        weight, scales, biases = (np.asarray(a) for a in quantized)
        rows, k = x.shape
        n = weight.shape[0]
        status = self._qmv(
            bits,
            np.asarray(x).ctypes.data,
            rows,
            k,
            weight.ctypes.data,
            scales.ctypes.data,
            biases.ctypes.data,
            n,
            y.ctypes.data,
            threads or self.threads,
        )
        if status != 0:
            raise ValueError(f"mlxfn_qmv refused bits={bits} rows={rows} k={k} n={n}")


def threads_to_use() -> int:
    """``$MLXFN_NATIVE_THREADS``, else the cores this process may run on (at most 8)."""
    given = os.environ.get(THREADS_ENV_VAR, "").strip()
    if given.isdigit() and int(given) > 0:
        return min(8, int(given))
    return min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


@cache
def kernel() -> Kernel | None:
    """The native kernel, built and loaded once per process; ``None`` (logged) if it cannot be."""
    if os.environ.get(ENV_VAR, "1").strip().lower() in _OFF:
        return None
    compiler = _compiler()
    if compiler is None or not SOURCE.is_file():
        log.info(
            "no native quantized kernel: %s", "no C compiler" if compiler is None else "no source"
        )
        return None
    try:
        with _build_lock:
            path = build(compiler)
        library = ctypes.CDLL(str(path))
        if library.mlxfn_qmv_version() != KERNEL_VERSION:
            raise OSError(f"{path} is version {library.mlxfn_qmv_version()}, not {KERNEL_VERSION}")
        return Kernel(library, path)
    except (OSError, subprocess.SubprocessError, AttributeError) as exc:
        detail = getattr(exc, "stderr", "") or exc
        log.warning("no native quantized kernel: %s", detail)
        return None


def _product(layer: Any, x: Any) -> Any:
    """x @ W.T for a quantized layer whose scales and biases are float32."""
    import mlx.core as mx
    import numpy as np

    weight, scales, biases = layer["weight"], layer["scales"], layer["biases"]
    n, k = weight.shape[0], scales.shape[-1] * _GROUP
    rows = x.size // k if x.ndim else 0
    found = kernel()
    if found is not None and 1 <= rows <= MAX_KERNEL_ROWS and x.dtype == mx.float32:
        flat = mx.contiguous(x.reshape(rows, k))
        mx.eval(flat)
        y = np.empty((rows, n), dtype=np.float32)
        found.qmv(flat, (weight, scales, biases), y, bits=layer.bits)
        return mx.array(y).reshape(*x.shape[:-1], n)
    if rows > MAX_KERNEL_ROWS and x.dtype == mx.float32:  # prefill: dequantize, then sgemm
        dense = mx.dequantize(weight, scales, biases, group_size=layer.group_size, bits=layer.bits)
        return x @ dense.T
    return mx.quantized_matmul(
        x, weight, scales=scales, biases=biases, transpose=True,
        group_size=layer.group_size, bits=layer.bits,
    )  # fmt: skip


def _nn() -> Any:
    from mlx import nn

    return nn


class FastQuantizedLinear(_nn().QuantizedLinear):  # type: ignore[misc]
    """A ``QuantizedLinear`` whose products of a few rows go to the native kernel."""

    def __call__(self, x: Any) -> Any:
        y = _product(self, x)
        return y + self["bias"] if "bias" in self else y


class FastQuantizedEmbedding(_nn().QuantizedEmbedding):  # type: ignore[misc]
    """A ``QuantizedEmbedding`` whose ``as_linear`` (a tied LM head) goes to the native kernel."""

    def as_linear(self, x: Any) -> Any:
        return _product(self, x)


def _takes(module: Any) -> bool:
    return (
        getattr(module, "mode", "affine") == "affine"
        and getattr(module, "group_size", None) == _GROUP
        and getattr(module, "bits", None) in (4, 8)
        and "biases" in module
        and module["scales"].shape[-1] * _GROUP * module.bits // 32 == module["weight"].shape[-1]
    )


def install_fast_products(model: Any) -> int:
    """Turn ``model``'s quantized layers the kernel takes into the fast subclasses, in place,
    with float32 scales and biases. Returns how many it turned; 0 when there is no kernel."""
    import mlx.core as mx

    nn_ = _nn()
    if kernel() is None:
        return 0
    turned = 0
    for _, module in model.named_modules():
        if type(module) is nn_.QuantizedLinear and _takes(module):
            module.__class__ = FastQuantizedLinear  # same attributes, a different __call__
        elif type(module) is nn_.QuantizedEmbedding and _takes(module):
            module.__class__ = FastQuantizedEmbedding
        else:
            continue
        module["scales"] = module["scales"].astype(mx.float32)
        module["biases"] = module["biases"].astype(mx.float32)
        turned += 1
    mx.eval(model.parameters())
    return turned
