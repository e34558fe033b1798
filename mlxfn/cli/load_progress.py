"""A progress bar on stderr while a model loads: weight bytes in memory against their size on disk.

The engine thread loads the model with mlx-lm; this only watches MLX's allocator from the side,
so the loader needs no hooks. The bar shows only on a terminal: logs and tests stay clean.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

_POLL_S = 0.1
_DEFAULT_SCREEN = (80, 24)


def weights_bytes(source: str) -> int | None:
    """The size of a local model folder's weights or of a GGUF file; ``None`` for hub ids
    (their downloads show huggingface_hub's own bars) and folders without weights."""
    folder = Path(source).expanduser()
    if folder.suffix.lower() == ".gguf" and folder.is_file():
        return folder.stat().st_size
    if not folder.is_dir():
        return None
    return sum(p.stat().st_size for p in folder.glob("*.safetensors")) or None


def _screen(stream: TextIO) -> tuple[int, int]:
    # A terminal that reports no size (a bare pseudo-terminal) would get no bar at all.
    try:
        size = os.get_terminal_size(stream.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return _DEFAULT_SCREEN
    columns = min(size.columns, 100) if size.columns > 0 else _DEFAULT_SCREEN[0]
    return columns, size.lines if size.lines > 1 else _DEFAULT_SCREEN[1]


@contextmanager
def load_progress(label: str, total: int | None, stream: TextIO | None = None) -> Iterator[None]:
    """Show ``loading LABEL`` with a bar of ``total`` bytes while the block runs."""
    out = sys.stderr if stream is None else stream
    if total is None or not out.isatty():
        yield
        return
    import mlx.core as mx
    from tqdm import tqdm  # type: ignore[import-untyped]

    columns, rows = _screen(out)
    base = mx.get_active_memory()
    stop = threading.Event()
    bar = tqdm(
        total=total,
        desc=f"loading {label}",
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=out,
        leave=False,
        ncols=columns,
        nrows=rows,
    )

    def poll() -> None:
        while not stop.wait(_POLL_S):
            loaded = min(total, max(0, mx.get_active_memory() - base))
            bar.update(loaded - bar.n)

    watcher = threading.Thread(target=poll, name="mlxfn-load-progress", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
        bar.close()
