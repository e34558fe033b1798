"""Server-sent events framing: JSON values → ``data:`` frames, and back (for clients and tests)."""

from __future__ import annotations

from collections.abc import Iterator

import orjson

DONE = b"data: [DONE]\n\n"


def encode_event(value: object) -> bytes:
    """One SSE frame. orjson escapes newlines inside strings, so a frame is one ``data:`` line.

    >>> encode_event({"text": "a\\nb"})
    b'data: {"text":"a\\\\nb"}\\n\\n'
    """
    return b"data: " + orjson.dumps(value) + b"\n\n"


def decode_events(stream: bytes) -> Iterator[object]:
    """Parse a whole SSE body back into JSON values, stopping at ``[DONE]``."""
    for frame in stream.replace(b"\r\n", b"\n").split(b"\n\n"):
        data = b"\n".join(
            line[len(b"data:") :].removeprefix(b" ")
            for line in frame.split(b"\n")
            if line.startswith(b"data:")
        )
        if not data:
            continue
        if data == b"[DONE]":
            return
        yield orjson.loads(data)
