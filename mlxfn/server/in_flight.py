"""Requests whose engine work is not generation (embeddings), which ``engine.pending`` does
not count: between two of its tasks such a request has nothing queued at all, yet a drain
must still wait for it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import attrs


@attrs.define
class InFlight:
    """How many such requests are running; only the event loop's thread touches it.

    >>> running = InFlight()
    >>> with running.holding():
    ...     running.count
    1
    >>> running.count
    0
    """

    count: int = 0

    @contextmanager
    def holding(self) -> Iterator[None]:
        self.count += 1
        try:
            yield
        finally:
            self.count -= 1
