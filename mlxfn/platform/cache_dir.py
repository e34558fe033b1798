"""Where mlxfn keeps what it derives once per machine: converted GGUF models, a patched BLAS.

``$MLXFN_CACHE`` if set, else ``$XDG_CACHE_HOME/mlxfn``, else ``~/.cache/mlxfn``. Everything in
it can be deleted; it is rebuilt on next use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

CACHE_ENV: Final = "MLXFN_CACHE"


def cache_root() -> Path:
    if explicit := os.environ.get(CACHE_ENV):
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "mlxfn"
