"""SSE framing: one ``data:`` line per value, and a decoder that stops at ``[DONE]``."""

from __future__ import annotations

import pytest

from mlxfn.wire.sse import DONE, decode_events, encode_event


def test_frame_is_one_data_line_even_with_newlines() -> None:
    frame = encode_event({"content": "a\nb\r\nc\n\n"})
    assert frame.startswith(b"data: ")
    assert frame.endswith(b"\n\n")
    assert frame.count(b"\n") == 2
    assert b"\r" not in frame


def test_unicode_is_utf8_not_escaped() -> None:
    assert encode_event({"c": "é😀"}) == 'data: {"c":"é😀"}\n\n'.encode()


@pytest.mark.parametrize(
    "value",
    [
        {"content": "a\nb"},
        {"c": "\r\n\r\n"},
        "data: [DONE]",
        "[DONE]",
        [],
        None,
        0,
        {"u": "😀\u2028"},
    ],
    ids=repr,
)
def test_round_trip(value: object) -> None:
    assert list(decode_events(encode_event(value) + DONE)) == [value]


def test_frames_decode_in_order_and_stop_at_done() -> None:
    stream = encode_event({"i": 0}) + encode_event({"i": 1}) + DONE + encode_event({"i": 2})
    assert list(decode_events(stream)) == [{"i": 0}, {"i": 1}]


def test_stream_without_done_yields_every_frame() -> None:
    assert list(decode_events(encode_event(1) + encode_event(2))) == [1, 2]


def test_decoder_accepts_crlf_comments_no_space_and_multiline_data() -> None:
    stream = b': keep-alive\r\n\r\ndata:{"a":1}\r\n\r\ndata: [1,\ndata: 2]\n\nevent: x\n\n' + DONE
    assert list(decode_events(stream)) == [{"a": 1}, [1, 2]]


def test_done_frame() -> None:
    assert DONE == b"data: [DONE]\n\n"
    assert list(decode_events(DONE)) == []
