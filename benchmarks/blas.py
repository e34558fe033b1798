"""The same BLAS for every system under test.

MLX's Linux CPU wheel links a vendored reference BLAS (~6 GFLOP/s here). mlxfn's engine
swaps in a system OpenBLAS on its own (``mlxfn/platform/blas.py``, off with ``MLXFN_FAST_BLAS=0``);
mlx_lm.server and the in-process ceiling get the same library through ``LD_PRELOAD``, which puts
it first in the dynamic linker's global scope, as mlxfn's ``RTLD_GLOBAL`` preload does. Each
process's ``/proc/PID/maps`` then shows which BLAS it really loaded.
"""

from __future__ import annotations

import os
import platform
import sysconfig
from dataclasses import dataclass
from pathlib import Path

MLXFN_SWITCH = "MLXFN_FAST_BLAS"


def openblas_paths() -> tuple[str, ...]:
    """Where distributions install OpenBLAS with 32-bit integers (the pthreads build first)."""
    triplet = sysconfig.get_config_var("MULTIARCH") or f"{platform.machine()}-linux-gnu"
    multiarch = f"/usr/lib/{triplet}"
    return (
        f"{multiarch}/openblas-pthread/libopenblas.so.0",
        f"{multiarch}/libopenblas.so.0",
        f"{multiarch}/openblas-openmp/libopenblas.so.0",
        f"{multiarch}/openblas-serial/libopenblas.so.0",
        "/usr/lib64/libopenblasp.so.0",
        "/usr/lib64/libopenblaso.so.0",
        "/usr/lib64/libopenblas.so.0",
        "/usr/lib/libopenblas.so.0",
    )


def find_openblas() -> str | None:
    """A system OpenBLAS, else the pip wheel's (``ngsolve-openblas``), which mlxfn itself finds
    too: the copy ``mlxfn.platform.blas_wheel`` patches to load beside MLX's libgfortran."""
    found = next((p for p in openblas_paths() if os.path.exists(p)), None)
    if found is None:
        from mlxfn.platform.blas_wheel import wheel_openblas

        found, _ = wheel_openblas()
    return found


@dataclass(frozen=True)
class BlasSetting:
    """What ``--blas`` resolved to: the library (None: MLX's reference BLAS) and its env."""

    library: str | None
    env: dict[str, str]

    @property
    def description(self) -> str:
        if self.library is None:
            return "MLX's vendored reference BLAS for every system (MLXFN_FAST_BLAS=0)"
        return f"{self.library} for every system (LD_PRELOAD; mlxfn via {MLXFN_SWITCH})"


def resolve_blas(choice: str) -> BlasSetting:
    """``auto``: a system OpenBLAS when there is one; ``reference``: none; else a library path."""
    if choice == "reference":
        return BlasSetting(None, {MLXFN_SWITCH: "0"})
    library = find_openblas() if choice == "auto" else choice
    if library is None:
        return BlasSetting(None, {MLXFN_SWITCH: "0"})
    if not os.path.exists(library):
        raise FileNotFoundError(f"--blas {choice}: no such library")
    return BlasSetting(library, {"LD_PRELOAD": library, MLXFN_SWITCH: library})


def loaded_blas(pid: int | str = "self") -> str:
    """The BLAS libraries mapped into a process: 'openblas', 'reference', or both, or unknown."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return "unknown"
    names = {line.rsplit("/", 1)[-1] for line in maps.splitlines() if "blas" in line}
    # numpy's own scipy_openblas (prefixed symbols) serves numpy only, never MLX.
    mlx_side = {n for n in names if "scipy_openblas" not in n}
    has_open = any("openblas" in n for n in mlx_side)
    has_reference = any(n.startswith("libblas-") for n in mlx_side)
    if has_open:
        # The reference library stays mapped (libmlx needs it), but OpenBLAS binds first.
        return "openblas"
    return "reference" if has_reference else "unknown"
