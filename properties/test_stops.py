"""scan_for_stop over any chunking: emit exactly the text before the stop, and never a stop.

The stop that completes first wins (on a tie, the longer one), which is what feeding the text
a character at a time gives; so the result never depends on how tokens cut the text.
"""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from mlxfn.pipeline.stops import scan_for_stop

# A small alphabet makes stops (and near misses) appear often; a few odd characters check unicode.
ALPHABET = "ab\n😀é"
stop_texts = st.text(ALPHABET, min_size=1, max_size=4)
stop_tuples = st.lists(stop_texts, min_size=1, max_size=4).map(tuple)
generated = st.text(ALPHABET, max_size=40)


@st.composite
def chunkings(draw: st.DrawFn, text_strategy: st.SearchStrategy[str] = generated) -> list[str]:
    """A text cut into chunks at arbitrary points, as tokens would cut it (empty chunks too)."""
    text = draw(text_strategy)
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=12)))
    bounds = [0, *cuts, len(text)]
    return [text[i:j] for i, j in itertools.pairwise(bounds)]


def feed(chunks: list[str], stops: tuple[str, ...]) -> tuple[str, str, bool, str]:
    """Feed chunks as the engine does, until a stop: (emitted, held, stopped, the text read)."""
    held, emitted = "", ""
    for read, chunk in enumerate(chunks, start=1):
        scan = scan_for_stop(held, chunk, stops)
        emitted += scan.emit
        if scan.stopped:
            return emitted, scan.held, True, "".join(chunks[:read])
        held = scan.held
    return emitted, held, False, "".join(chunks)


def earliest_stop(text: str, stops: tuple[str, ...]) -> int | None:
    """Where the first stop to complete starts (the longer one when two complete together)."""
    ends = [(i + len(s), i) for s in stops if (i := text.find(s)) >= 0]
    return min(ends)[1] if ends else None


def longest_pending_prefix(text: str, stops: tuple[str, ...]) -> str:
    """The longest end of ``text`` that is a proper prefix of some stop (what must be held)."""
    sizes = [k for s in stops for k in range(len(s)) if k <= len(text) and text.endswith(s[:k])]
    size = max(sizes, default=0)
    return text[len(text) - size :]


@given(chunks=chunkings(), stops=stop_tuples)
def test_emits_exactly_the_text_before_the_earliest_stop(
    chunks: list[str], stops: tuple[str, ...]
) -> None:
    emitted, held, stopped, fed = feed(chunks, stops)
    at = earliest_stop(fed, stops)
    assert not any(stop in emitted for stop in stops)
    if stopped:
        assert at is not None
        assert (emitted, held) == (fed[:at], "")
    else:
        assert at is None
        assert emitted + held == fed
        assert held == longest_pending_prefix(fed, stops)  # and no false holdback


@given(chunks=chunkings(), stops=stop_tuples)
def test_stops_as_soon_as_a_stop_is_complete(chunks: list[str], stops: tuple[str, ...]) -> None:
    """It has stopped after any prefix of the chunks exactly when that text holds a stop."""
    for read in range(len(chunks) + 1):
        stopped = feed(chunks[:read], stops)[2]
        assert stopped == (earliest_stop("".join(chunks[:read]), stops) is not None)


@given(chunks=chunkings(), stops=stop_tuples)
def test_chunking_does_not_matter(chunks: list[str], stops: tuple[str, ...]) -> None:
    """Any cut of the text gives what feeding it a character at a time gives."""
    text = "".join(chunks)
    emitted, _, stopped, _ = feed(chunks, stops)
    by_character, _, stopped_by_character, _ = feed(list(text), stops)
    assert (emitted, stopped) == (by_character, stopped_by_character)


@given(chunks=chunkings(st.text(max_size=40)), stops=stop_tuples)
def test_text_without_any_stop_comes_out_whole(chunks: list[str], stops: tuple[str, ...]) -> None:
    text = "".join(chunks)
    if earliest_stop(text, stops) is None:
        emitted, held, stopped, _ = feed(chunks, stops)
        assert (emitted + held, stopped) == (text, False)
