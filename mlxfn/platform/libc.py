"""The C library's own functions, where this platform's C library has them."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    return None if name is None else ctypes.CDLL(name)


def libc_function(name: str) -> Callable[..., int] | None:
    """The C function ``name``, or None where there is no C library or it lacks the function
    (``mallopt`` and ``malloc_trim`` are glibc's, ``prctl`` is Linux's).

    >>> libc_function("no_such_function_anywhere") is None
    True
    """
    found: Callable[..., int] | None = getattr(_libc(), name, None)
    return found
