"""SSE framing: decoding what was encoded gives the values back, in order, up to [DONE]."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mlxfn.wire.sse import DONE, decode_events, encode_event
from properties.strategies import json_values, tricky_texts


@given(value=json_values())
def test_one_frame_round_trips(value: Any) -> None:
    assert list(decode_events(encode_event(value))) == [value]


@given(text=tricky_texts)
def test_a_frame_is_one_line_whatever_the_text(text: str) -> None:
    frame = encode_event({"choices": [{"delta": {"content": text}}]})
    assert frame.count(b"\n") == 2
    assert b"\r" not in frame
    assert list(decode_events(frame)) == [{"choices": [{"delta": {"content": text}}]}]


@given(values=st.lists(json_values(), max_size=6), after=st.lists(json_values(), max_size=2))
def test_frames_then_done_decode_in_order(values: list[Any], after: list[Any]) -> None:
    stream = b"".join(map(encode_event, values)) + DONE + b"".join(map(encode_event, after))
    assert list(decode_events(stream)) == values


@given(values=st.lists(json_values(), max_size=6))
def test_crlf_line_endings_decode_the_same(values: list[Any]) -> None:
    stream = b"".join(map(encode_event, values)) + DONE
    assert list(decode_events(stream.replace(b"\n", b"\r\n"))) == values
