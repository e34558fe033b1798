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
    """``$MLXFN_NATIVE_THREADS`` (at most 8), else one: measured on the shared 2-core box
    (BENCHMARKS.md), a second thread halves the LM head's time when the machine is idle but
    doubles a decode step's when other processes want the cores."""
    given = os.environ.get(THREADS_ENV_VAR, "").strip()
    if given.isdigit() and int(given) > 0:
        return min(8, int(given))
    return 1


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


def kernel_rows(n: int) -> int:
    """How many rows a product with a float32 copy at hand sends to the kernel instead of
    sgemm (measured, BENCHMARKS.md): one, or up to 16 for a weight as tall as an LM head,
    where OpenBLAS's sgemm of a few rows is slowest."""
    return MAX_KERNEL_ROWS if n >= 16384 else 1


def _kernel_product(x: Any, packed: tuple[Any, Any, Any], bits: int, most_rows: int) -> Any:
    """x @ W.T through the kernel, or ``None`` where it does not take x."""
    import mlx.core as mx
    import numpy as np

    weight, scales, _ = packed
    n, k = weight.shape[0], scales.shape[-1] * _GROUP
    rows = x.size // k if x.ndim else 0
    found = kernel()
    if found is None or not 1 <= rows <= most_rows or x.dtype != mx.float32:
        return None
    flat = mx.contiguous(x.reshape(rows, k))
    mx.eval(flat)
    y = np.empty((rows, n), dtype=np.float32)
    found.qmv(flat, packed, y, bits=bits)
    return mx.array(y).reshape(*x.shape[:-1], n)


def _product(layer: Any, x: Any) -> Any:
    """x @ W.T for a quantized layer whose scales and biases are float32."""
    import mlx.core as mx

    packed = (layer["weight"], layer["scales"], layer["biases"])
    if (y := _kernel_product(x, packed, layer.bits, MAX_KERNEL_ROWS)) is not None:
        return y
    if x.dtype == mx.float32 and x.size > MAX_KERNEL_ROWS * x.shape[-1]:
        # prefill: dequantize, then sgemm (far faster than quantized_matmul for many rows)
        dense = mx.dequantize(*packed, group_size=layer.group_size, bits=layer.bits)
        return x @ dense.T
    return mx.quantized_matmul(
        x, *packed, transpose=True, group_size=layer.group_size, bits=layer.bits
    )


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
    if not any(isinstance(m, nn_.QuantizedLinear) for _, m in model.named_modules()):
        return 0
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


class Packed:
    """A float32 layer's packed copy for the kernel: kept out of the module's parameters."""

    def __init__(self, module: Any) -> None:
        import mlx.core as mx

        self.arrays = (
            module["weight"],
            module["scales"].astype(mx.float32),
            module["biases"].astype(mx.float32),
        )
        self.bits: int = module.bits
        self.rows = kernel_rows(module["weight"].shape[0])


class FastLinear(_nn().Linear):  # type: ignore[misc]
    """A float32 ``Linear`` that also holds its packed weight: one row goes to the kernel,
    more to sgemm on the float32 weight."""

    packed: Packed

    def __call__(self, x: Any) -> Any:
        packed = self.packed
        if (y := _kernel_product(x, packed.arrays, packed.bits, packed.rows)) is None:
            return super().__call__(x)
        return y + self["bias"] if "bias" in self else y


class FastEmbedding(_nn().Embedding):  # type: ignore[misc]
    """A float32 ``Embedding`` whose ``as_linear`` (a tied LM head) takes the kernel for a few
    rows."""

    packed: Packed

    def as_linear(self, x: Any) -> Any:
        packed = self.packed
        if (y := _kernel_product(x, packed.arrays, packed.bits, packed.rows)) is None:
            return super().as_linear(x)
        return y


def packed_copies(model: Any) -> dict[str, Packed]:
    """Each quantized layer the kernel takes, by name, as ``attach_packed_copies`` wants them;
    none without a kernel (which is built here, first use, only if there are such layers)."""
    import mlx.core as mx

    nn_ = _nn()
    quantized = {
        name: module
        for name, module in model.named_modules()
        if isinstance(module, (nn_.QuantizedLinear, nn_.QuantizedEmbedding)) and _takes(module)
    }
    if not quantized or kernel() is None:
        return {}
    copies = {name: Packed(module) for name, module in quantized.items()}
    mx.eval([c.arrays for c in copies.values()])
    return copies


def attach_packed_copies(model: Any, copies: dict[str, Packed]) -> int:
    """Give the float32 layers of ``model`` (unpacked from the quantized one ``copies`` came
    from) their packed copies, turning them into ``FastLinear`` and ``FastEmbedding``."""
    nn_ = _nn()
    turned = 0
    for name, module in model.named_modules():
        if (packed := copies.get(name)) is None:
            continue
        if type(module) is nn_.Linear:
            module.__class__ = FastLinear
        elif type(module) is nn_.Embedding:
            module.__class__ = FastEmbedding
        else:
            continue
        object.__setattr__(module, "packed", packed)  # an attribute, not a parameter
        turned += 1
    return turned


def packed_copy_bytes(model: Any) -> int:
    """Memory the packed copies of ``attach_packed_copies`` take: no parameters, so a sum over
    ``model.parameters()`` misses them."""
    return sum(
        sum(a.nbytes for a in module.packed.arrays)
        for _, module in model.named_modules()
        if isinstance(module, (FastLinear, FastEmbedding))
    )
