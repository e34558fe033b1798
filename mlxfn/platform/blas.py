"""A fast system BLAS for MLX's Linux CPU backend: find OpenBLAS, load it first, check it.

MLX's Linux wheel (``mlx[cpu]``) links the reference (netlib) BLAS it vendors in
``mlx_cpu.libs/``. Python loads extension modules with ``RTLD_NOW``, and the dynamic linker
binds each undefined symbol to the first definition in the global scope before looking at the
library's own dependencies. So an OpenBLAS loaded with ``RTLD_GLOBAL`` *before* the first
``import mlx`` supplies ``cblas_sgemm`` (and the LAPACK routines) to MLX; after that import
the symbols are bound and it is too late. This is a shell module: it loads shared libraries.

Only float32 and float64 matmuls go through BLAS. MLX multiplies bfloat16 and float16 with its
own SIMD kernels, and quantized models with its quantized kernels, so those gain nothing.

Safety: each candidate is first loaded ``RTLD_LOCAL``, where MLX cannot see it, and its
``cblas_sgemm`` is checked against exact integer products in the row-major layouts MLX uses.
Only a library that passes is promoted to ``RTLD_GLOBAL``; one that fails is reported and left
invisible, so MLX keeps its own BLAS. ``verify_blas()`` then checks ``mx.matmul`` end to end
against a float64 numpy product; a caller that gets a failed check must not serve (the CLI
exits with status 2 and names ``MLXFN_FAST_BLAS=0``), since a wrong matmul is a wrong model.
macOS is never touched: MLX uses Accelerate and Metal there.

The checks live in ``blas_check.py`` and the values they and the preload give in
``blas_choice.py``; this module re-exports both.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform
import sys
import sysconfig
from typing import Final

from mlxfn.platform.blas_check import (
    DEFAULT_TOLERANCE,
    blas_provider,
    check_sgemm,
    verify_blas,
)
from mlxfn.platform.blas_choice import (
    ENV_VAR,
    BlasCheck,
    BlasChoice,
    BlasDisabled,
    BlasLoaded,
    BlasNotFound,
    BlasNotLinux,
    BlasRejected,
    BlasTooLate,
    describe_blas,
    describe_check,
)
from mlxfn.platform.blas_wheel import wheel_openblas

log = logging.getLogger("mlxfn.platform.blas")

__all__ = [
    "DEFAULT_TOLERANCE",
    "ENV_VAR",
    "BlasCheck",
    "BlasChoice",
    "BlasDisabled",
    "BlasLoaded",
    "BlasNotFound",
    "BlasNotLinux",
    "BlasRejected",
    "BlasTooLate",
    "blas_provider",
    "check_sgemm",
    "describe_blas",
    "describe_check",
    "openblas_candidates",
    "openblas_paths",
    "preload_fast_blas",
    "verify_blas",
]

_OFF: Final = frozenset({"0", "false", "no", "off"})
_AUTO: Final = frozenset({"", "1", "true", "yes", "on", "auto"})


# The one piece of state. The choice is made once, before MLX is imported, and a library
# promoted to RTLD_GLOBAL cannot be unloaded, so the first answer stays the answer.
_DECIDED: list[BlasChoice] = []


def preload_fast_blas(enabled: bool = True) -> BlasChoice:
    """Load a checked OpenBLAS ``RTLD_GLOBAL`` so that MLX uses it. Call before ``import mlx``.

    ``MLXFN_FAST_BLAS=0`` (or ``false``/``no``/``off``) turns it off, as does ``enabled=False``;
    a path in ``MLXFN_FAST_BLAS`` is the only library tried. Importing ``mlxfn.engine`` calls
    this on Linux. The first call in a process decides and logs; later calls return its answer.
    """
    if _DECIDED:
        return _DECIDED[0]
    choice = _choose(enabled, os.environ.get(ENV_VAR, ""))
    _DECIDED.append(choice)
    level = logging.WARNING if isinstance(choice, BlasRejected | BlasTooLate) else logging.INFO
    log.log(level, "%s", describe_blas(choice))
    return choice


def _choose(enabled: bool, setting: str) -> BlasChoice:
    if sys.platform != "linux":
        return BlasNotLinux(platform=sys.platform)
    if not enabled:
        return BlasDisabled(by="parameter")
    setting = setting.strip()
    if setting.lower() in _OFF:
        return BlasDisabled(by="environment")
    if "mlx.core" in sys.modules:
        return BlasTooLate()
    if setting.lower() not in _AUTO:
        candidates: tuple[str, ...] = (setting,)
    else:
        candidates = openblas_candidates()
        if not candidates:
            return BlasNotFound(
                searched=(*openblas_paths(), "the linker cache (ldconfig -p)", "the pip wheel")
            )
    reasons = []
    for path in candidates:
        match _load_checked(path):
            case BlasLoaded() as loaded:
                return loaded
            case str(reason):
                reasons.append(f"{path}: {reason}")
    return BlasRejected(reasons=tuple(reasons))


def openblas_paths() -> tuple[str, ...]:
    """Where distributions put OpenBLAS builds with 32-bit integers (as MLX calls BLAS).

    Debian and Ubuntu put each flavour in its own folder with an alternatives link beside it;
    Fedora names the flavours apart in ``/usr/lib64``. The pthreads build comes first.
    """
    triplet = sysconfig.get_config_var("MULTIARCH") or f"{platform.machine()}-linux-gnu"
    multiarch = f"/usr/lib/{triplet}"
    return (
        f"{multiarch}/openblas-pthread/libopenblas.so.0",  # Debian/Ubuntu libopenblas0-pthread
        f"{multiarch}/libopenblas.so.0",  # the alternatives link: pthread, openmp or serial
        f"{multiarch}/openblas-openmp/libopenblas.so.0",
        f"{multiarch}/openblas-serial/libopenblas.so.0",
        "/usr/lib64/libopenblasp.so.0",  # Fedora/RHEL openblas-threads
        "/usr/lib64/libopenblaso.so.0",  # Fedora/RHEL openblas-openmp
        "/usr/lib64/libopenblas.so.0",  # Fedora/RHEL openblas-serial
        "/usr/lib/libopenblas.so.0",  # Arch and others without multiarch
    )


def openblas_candidates() -> tuple[str, ...]:
    """The ``openblas_paths()`` that exist, one per real file, else what the linker cache
    knows, else the OpenBLAS that ``pip install mlxfn`` brings (``mlxfn.platform.blas_wheel``)."""
    found: dict[str, str] = {}
    for path in openblas_paths():
        if os.path.exists(path):
            found.setdefault(os.path.realpath(path), path)
    if found:
        return tuple(found.values())
    cached = ctypes.util.find_library("openblas")  # runs ldconfig -p: only as a last resort
    if cached is not None:
        return (cached,)
    wheel, why = wheel_openblas()
    if wheel is None:
        log.info("no pip-installed OpenBLAS: %s", why)
        return ()
    return (wheel,)


def _load_checked(path: str) -> BlasLoaded | str:
    """Load ``path`` privately, check it, and promote it to the global scope if it passes."""
    try:
        lib = ctypes.CDLL(path)  # RTLD_LOCAL: MLX cannot bind to it yet
    except OSError as exc:
        return f"cannot be loaded ({exc})"
    try:
        get_config = lib.openblas_get_config
        get_threads = lib.openblas_get_num_threads
    except AttributeError:
        return "not OpenBLAS (no openblas_get_config)"
    if not hasattr(lib, "cblas_sgemm"):
        return "has no CBLAS interface (no cblas_sgemm)"
    get_config.restype = ctypes.c_char_p
    get_config.argtypes = []
    raw_config = get_config()
    config = raw_config.decode(errors="replace") if isinstance(raw_config, bytes) else ""
    if "USE64BITINT" in config:  # MLX passes 32-bit ints; an ILP64 build would misread them
        return f"a 64-bit-integer build ({config})"
    problem = check_sgemm(lib)
    if problem is not None:
        return f"failed the sgemm self-test: {problem}"
    try:  # promote the handle already loaded: from now on MLX binds to it
        ctypes.CDLL(path, mode=os.RTLD_GLOBAL | os.RTLD_NOLOAD)
    except OSError as exc:
        return f"cannot be made global ({exc})"
    get_threads.restype = ctypes.c_int
    get_threads.argtypes = []
    return BlasLoaded(path=path, config=config, threads=int(get_threads()))
