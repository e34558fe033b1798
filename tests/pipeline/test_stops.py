"""scan_for_stop: hold back what could still become a stop string, emit the rest."""

from __future__ import annotations

import pytest

from mlxfn.pipeline.stops import StopScan, scan_for_stop


def feed(chunks: list[str], stops: tuple[str, ...]) -> tuple[str, str, bool]:
    """Feed chunks as the engine does, until a stop: (all emitted, held, stopped)."""
    held, emitted = "", ""
    for chunk in chunks:
        scan = scan_for_stop(held, chunk, stops)
        emitted += scan.emit
        if scan.stopped:
            return emitted, scan.held, True
        held = scan.held
    return emitted, held, False


def test_no_stops_emits_everything() -> None:
    assert scan_for_stop("", "Hello", ()) == StopScan("Hello", "", False)


def test_stop_inside_one_chunk() -> None:
    assert scan_for_stop("", "Hello END of it", ("END",)) == StopScan("Hello ", "", True)


def test_stop_at_the_very_start() -> None:
    assert scan_for_stop("", "END", ("END",)) == StopScan("", "", True)


@pytest.mark.parametrize(
    "chunks",
    [["Hello E", "N", "D!"], ["Hello ", "E", "N", "D"], ["Hello EN", "D"], ["H", "ello E", "ND"]],
)
def test_stop_split_across_calls(chunks: list[str]) -> None:
    assert feed(chunks, ("END",)) == ("Hello ", "", True)


def test_partial_stop_is_held_then_released() -> None:
    first = scan_for_stop("", "Hello EN", ("END",))
    assert first == StopScan("Hello ", "EN", False)
    assert scan_for_stop(first.held, "TRY", ("END",)) == StopScan("ENTRY", "", False)


def test_held_text_comes_back_when_the_stream_ends_without_a_stop() -> None:
    assert feed(["a", "b", "<", "/"], ("</s>",)) == ("ab", "</", False)


def test_earliest_stop_wins() -> None:
    stops = ("world", "lo")
    assert scan_for_stop("", "Hello world", stops) == StopScan("Hel", "", True)
    assert scan_for_stop("", "Hello world", stops[::-1]) == StopScan("Hel", "", True)


def test_earliest_stop_wins_across_calls() -> None:
    assert feed(["x ab", "c yz"], ("c yz", "abc")) == ("x ", "", True)


@pytest.mark.parametrize(
    ("text", "held"),
    [("Hello", ""), ("HelloE", "E"), ("Hello\n", "\n"), ("Hello\n\n", "\n\n"), ("EN", "EN")],
)
def test_no_false_holdback(text: str, held: str) -> None:
    """Only a proper prefix of a stop at the very end is held back."""
    scan = scan_for_stop("", text, ("END", "\n\n\n"))
    assert (scan.emit, scan.held, scan.stopped) == (text[: len(text) - len(held)], held, False)


def test_text_in_the_middle_that_looks_like_a_prefix_is_emitted() -> None:
    assert scan_for_stop("", "EN and END-ish", ("ENDX",)) == StopScan("EN and END-ish", "", False)


def test_longest_held_suffix_over_all_stops() -> None:
    assert scan_for_stop("", "xab", ("abc", "bz")) == StopScan("x", "ab", False)


def test_unicode() -> None:
    stops = ("😀😀", "é\n")
    assert feed(["Café ", "😀", " ok é", "\n after"], stops) == ("Café 😀 ok ", "", True)
    assert feed(["naïve 😀"], stops) == ("naïve ", "😀", False)


def test_stop_is_never_emitted_even_when_repeated() -> None:
    emitted, _, stopped = feed(["aEND", "END"], ("END",))
    assert (emitted, stopped) == ("a", True)


def test_result_does_not_depend_on_chunking_when_one_stop_contains_another() -> None:
    stops = ("abcd", "c")
    assert feed(["abcd"], stops) == feed(["ab", "c", "d"], stops)
