"""Stop strings over streamed text: emit what cannot be part of a stop, hold back the rest."""

from __future__ import annotations

import attrs


@attrs.frozen
class StopScan:
    emit: str
    held: str
    stopped: bool


def scan_for_stop(held: str, new_text: str, stops: tuple[str, ...]) -> StopScan:
    """Add ``new_text`` after the held-back text and decide what may be shown.

    Text that could still become the start of a stop string is held back, so a stop split
    across tokens never reaches the client. Generation ends at the first stop to complete.

    >>> scan_for_stop("", "Hello EN", ("END",))
    StopScan(emit='Hello ', held='EN', stopped=False)
    >>> scan_for_stop("EN", "D of it", ("END",))
    StopScan(emit='', held='', stopped=True)
    """
    text = held + new_text
    found = first_stop(text, stops)
    if found is not None:
        return StopScan(text[: found[0]], "", True)
    keep = _longest_stop_prefix_suffix(text, stops)
    return StopScan(text[: len(text) - keep], text[len(text) - keep :], False)


def first_stop(text: str, stops: tuple[str, ...]) -> tuple[int, str] | None:
    """Where the stop string that ends ``text`` starts, and which one it is (None: none does).

    The stop that completes first wins (on a tie, the longer one), as if the text had
    arrived a character at a time: so the result never depends on how tokens split it.

    >>> first_stop("a STOP b END", ("END", "STOP"))
    (2, 'STOP')
    """
    found = [(i + len(s), i, s) for s in stops if (i := text.find(s)) >= 0]
    if not found:
        return None
    _, start, stop = min(found)
    return start, stop


def _longest_stop_prefix_suffix(text: str, stops: tuple[str, ...]) -> int:
    """Length of the longest end of ``text`` that is a proper prefix of some stop string."""
    best = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), best, -1):
            if text.endswith(stop[:size]):
                best = size
                break
    return best
