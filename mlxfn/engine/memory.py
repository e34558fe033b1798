"""Giving freed memory back to the system, where the C library allows it."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    trim: Callable[[int], int] | None = getattr(ctypes.CDLL(name), "malloc_trim", None)
    return trim  # glibc only


def release_free_heap() -> None:
    """MLX's CPU buffers come from malloc; glibc keeps freed pages mapped until asked."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
