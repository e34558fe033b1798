"""Python thread names, shown by the operating system too.

``top -H``, ``ps -L`` and /proc name every thread of a Python process ``python``; giving each
of ours its Python name there tells the engine's MLX work from the tokenizer and the event
loop when looking at where the CPU goes (see ``benchmarks/cpu_share.py``).
"""

from __future__ import annotations

import ctypes
import threading

from mlxfn.platform.libc import libc_function

_PR_SET_NAME = 15  # prctl's option number in linux/prctl.h
_LINUX_NAME_BYTES = 15  # the kernel keeps 16 bytes, the last one NUL


def name_os_thread() -> None:
    """Give the calling thread its Python name in the OS (Linux; a no-op elsewhere).

    >>> worker = threading.Thread(target=name_os_thread, name="mlxfn-doc")
    >>> worker.start(); worker.join()
    """
    prctl = libc_function("prctl")
    if prctl is None:
        return
    name = threading.current_thread().name.encode()[:_LINUX_NAME_BYTES]
    prctl(_PR_SET_NAME, ctypes.c_char_p(name), 0, 0, 0)
