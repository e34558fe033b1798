"""Reading output as it streams gives what reading it whole gives, however it is cut."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from mlxfn.domain.messages import ToolCall
from mlxfn.pipeline.markup import Markers, OutputMarkup, TextPiece
from mlxfn.pipeline.reading import OutputReader, OutputReading, read_output

READING = OutputReading(
    markup=OutputMarkup(
        calls=Markers("<tool_call>", "</tool_call>"),
        thinking=Markers("<think>", "</think>"),
    ),
    parse_call=lambda text, tools: json.loads(text.strip()),
)

words = st.text(alphabet="ab <>/\n", max_size=12)
calls = st.builds(
    lambda name, x: f'<tool_call>\n{{"name": "{name}", "arguments": {{"x": {x}}}}}\n</tool_call>',
    st.sampled_from(["f", "get_weather"]),
    st.integers(0, 99),
)
outputs = st.builds(
    lambda think, parts: (f"<think>{think}</think>" if think is not None else "") + "".join(parts),
    st.none() | words,
    st.lists(words | calls, max_size=4),
)


def _without_ids(pieces: list[TextPiece | ToolCall]) -> tuple[list[str], str, str]:
    content = "".join(p.text for p in pieces if isinstance(p, TextPiece) and p.kind == "content")
    reasoning = "".join(
        p.text for p in pieces if isinstance(p, TextPiece) and p.kind == "reasoning"
    )
    return (
        [f"{p.name}:{p.arguments}" for p in pieces if isinstance(p, ToolCall)],
        content,
        reasoning,
    )


@given(outputs, st.lists(st.integers(1, 8), max_size=40))
def test_streamed_reading_equals_whole_reading(text: str, cuts: list[int]) -> None:
    reader = OutputReader(READING)
    pieces: list[TextPiece | ToolCall] = []
    rest = text
    for cut in cuts:
        pieces += reader.feed(rest[:cut])
        rest = rest[cut:]
    pieces += reader.feed(rest) + reader.finish()
    whole = read_output(text, READING)
    streamed_calls, content, reasoning = _without_ids(pieces)
    assert streamed_calls == [f"{c.name}:{c.arguments}" for c in whole.tool_calls]
    assert content == (whole.content or "")
    assert reasoning == (whole.reasoning or "")
