"""Reading a generation's events back as text, for tests that drive the engine directly."""

from __future__ import annotations

import queue

from mlxfn.domain.events import Delta, Event, Finished


def collect_text(events: queue.SimpleQueue[Event], timeout: float = 60) -> tuple[str, Finished]:
    """The generated text and its ``Finished``; any other final event fails the test."""
    parts: list[str] = []
    while True:
        event = events.get(timeout=timeout)
        if isinstance(event, Delta):
            parts.append(event.text)
        else:
            assert isinstance(event, Finished), event
            return "".join(parts), event
