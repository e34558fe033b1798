"""Reading generated text into answer, reasoning and tool calls, with mlx-lm's own parser."""

from __future__ import annotations

from mlx_lm.tool_parsers import json_tools

from mlxfn.pipeline.markup import Markers, OutputMarkup, TextPiece
from mlxfn.pipeline.reading import OutputReader, OutputReading, read_output

HERMES = OutputReading(
    markup=OutputMarkup(calls=Markers(json_tools.tool_call_start, json_tools.tool_call_end)),
    parse_call=json_tools.parse_tool_call,
)


def test_a_hermes_call_is_read_into_a_tool_call() -> None:
    text = 'Let me look.<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n'
    read = read_output(text + "</tool_call>", HERMES)
    assert read.content == "Let me look."
    (call,) = read.tool_calls
    assert (call.name, call.arguments) == ("get_weather", '{"city": "Oslo"}')
    assert call.id.startswith("call_")


def test_only_calls_leave_content_null() -> None:
    one = '<tool_call>{"name": "%s", "arguments": {}}</tool_call>'
    text = one % "f" + one % "g"
    read = read_output(text, HERMES)
    assert read.content is None
    assert [c.name for c in read.tool_calls] == ["f", "g"]


def test_a_call_that_does_not_parse_stays_text() -> None:
    text = "<tool_call>not json</tool_call>"
    read = read_output(text, HERMES)
    assert read.tool_calls == ()
    assert read.content == text


def test_thinking_goes_to_reasoning_also_when_the_prompt_opened_it() -> None:
    markup = OutputMarkup(thinking=Markers("<think>", "</think>"), starts_thinking=True)
    read = read_output("hmm, 4</think>It is 4.", OutputReading(markup=markup))
    assert (read.reasoning, read.content) == ("hmm, 4", "It is 4.")


THINKING = OutputReading(markup=OutputMarkup(thinking=Markers("<think>", "</think>")))


def _streamed(text: str, reading: OutputReading) -> tuple[str, str]:
    """The reasoning and content that reading ``text`` one character at a time gives."""
    reader = OutputReader(reading)
    pieces = [p for c in text for p in reader.feed(c)] + reader.finish()
    texts = [p for p in pieces if isinstance(p, TextPiece)]
    return (
        "".join(p.text for p in texts if p.kind == "reasoning"),
        "".join(p.text for p in texts if p.kind == "content"),
    )


def test_whitespace_around_the_thinking_markers_is_not_text() -> None:
    text = "<think>\n\nhm, 2 + 2\n</think>\n\nIt is 4.\n\nSure."
    read = read_output(text, THINKING)
    assert (read.reasoning, read.content) == ("hm, 2 + 2\n", "It is 4.\n\nSure.")
    assert _streamed(text, THINKING) == ("hm, 2 + 2\n", "It is 4.\n\nSure.")


def test_a_call_right_after_thinking_leaves_no_content() -> None:
    reading = OutputReading(
        markup=OutputMarkup(calls=HERMES.markup.calls, thinking=Markers("<think>", "</think>")),
        parse_call=json_tools.parse_tool_call,
    )
    text = '<think>call f</think>\n\n<tool_call>{"name": "f", "arguments": {}}</tool_call>'
    read = read_output(text, reading)
    assert read.content is None
    assert [c.name for c in read.tool_calls] == ["f"]


def test_leading_whitespace_of_an_answer_without_thinking_is_kept() -> None:
    assert read_output("  indented", THINKING).content == "  indented"
