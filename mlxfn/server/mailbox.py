"""Engine events onto the event loop, one wake-up for each burst of them.

A decode step gives one event to every running stream, all at once, from the engine thread.
``call_soon_threadsafe`` for each would wake the loop once per event (a write to its
self-pipe, then a loop iteration); posting through the mailbox wakes it once, when the first
event of a burst arrives, and the loop then hands out everything posted until it ran.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class Mailbox:
    """Calls posted from any thread, run on ``loop`` in the order they were posted."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._posted: list[tuple[Callable[[Any], None], Any]] = []

    def post(self, call: Callable[[T], None], argument: T) -> None:
        """Run ``call(argument)`` on the loop soon; safe from any thread."""
        with self._lock:
            self._posted.append((call, argument))
            wake = len(self._posted) == 1  # else a wake-up is on its way already
        if wake:
            self._loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        with self._lock:
            posted, self._posted = self._posted, []
        for call, argument in posted:
            try:
                call(argument)
            except Exception as exc:  # noqa: BLE001  one bad call must not lose the others
                self._loop.call_exception_handler(
                    {"message": "a posted call failed", "exception": exc}
                )
