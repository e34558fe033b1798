"""Leaving the IO world: the one helper that runs an ``IOResult`` into a plain ``Result``.

Only the shells call it (``server/``, ``cli/``, ``engine/``, ``notebook.py``), once per effect.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from returns.io import IO, IOResult
from returns.result import Result
from returns.unsafe import unsafe_perform_io

_V = TypeVar("_V")
_E = TypeVar("_E")


def run_io(effect: IOResult[_V, _E]) -> Result[_V, _E]:
    """The ``Result`` inside an ``IOResult``.

    >>> from returns.io import IOSuccess
    >>> run_io(IOSuccess(1))
    <Success: 1>
    """
    # unsafe_perform_io is typed for IO only; at run time it unwraps IOResult the same way.
    return cast(Result[_V, _E], unsafe_perform_io(cast(IO[Any], effect)))
