"""Reading a generation's text: answer, reasoning and parsed tool calls.

The tool-call format is parsed by mlx-lm's own parser for the model (``mlx_lm/tool_parsers``,
picked by its tokenizer wrapper), passed in as a plain function so that this stays pure; a
model with no format of its own is read in mlxfn's generic one (``generic_tools``). A
call whose text does not parse is given back as answer text, markers and all: nothing the
model wrote is dropped, and a client sees why no call came (mlx_lm.server drops it instead).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import attrs

from mlxfn.domain.messages import ToolCall
from mlxfn.domain.tools import ToolSpec
from mlxfn.pipeline.generic_tools import (
    GENERIC_CALLS,
    ToolFormat,
    parse_generic_call,
    tool_format_of,
)
from mlxfn.pipeline.markup import (
    PLAIN,
    CallText,
    Markers,
    MarkupSplitter,
    OutputMarkup,
    TextPiece,
)
from mlxfn.pipeline.prompt import render_template_tool

# mlx-lm's parse_tool_call(text, tools): a dict with "name" and "arguments", or a list of them.
ParseToolCall = Callable[[str, Any], Any]

# What mlx-lm's parsers raise on text that is not a call in their format.
_PARSE_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError, SyntaxError)


@attrs.frozen(kw_only=True)
class OutputReading:
    """How to read one generation: its markers, and the parser for its tool calls with the
    tools as the parser is given them (OpenAI's shape)."""

    markup: OutputMarkup = PLAIN
    parse_call: ParseToolCall | None = attrs.field(default=None, eq=False)
    tools: tuple[dict[str, Any], ...] = attrs.field(default=(), eq=False, hash=False)
    # generic: the calls are mlxfn's own markup, which the prompt asked for (generic_tools.py)
    tool_format: ToolFormat = "native"

    @property
    def plain(self) -> bool:
        return self.markup.plain


PLAIN_READING: OutputReading = OutputReading()

OutputPiece = TextPiece | ToolCall


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def _arguments_text(arguments: object) -> str:
    if isinstance(arguments, str):  # a parser that keeps the model's own JSON text
        return arguments
    return json.dumps(arguments, ensure_ascii=False)


def parse_calls(
    call: CallText, reading: OutputReading, new_id: Callable[[], str] = new_call_id
) -> tuple[ToolCall, ...] | None:
    """The calls in one tool-call block, or None when the parser cannot read it.

    >>> import json
    >>> reading = OutputReading(parse_call=lambda text, tools: json.loads(text))
    >>> body = '{"name": "f", "arguments": {"x": 1}}'
    >>> parse_calls(CallText(body, body), reading, lambda: "call_1")
    (ToolCall(id='call_1', name='f', arguments='{"x": 1}'),)
    """
    if reading.parse_call is None:
        return None
    try:
        parsed = reading.parse_call(call.body, list(reading.tools))
    except _PARSE_ERRORS:
        return None
    found = parsed if isinstance(parsed, list) else [parsed]
    calls: list[ToolCall] = []
    for item in found:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            return None
        arguments = item.get("arguments", {})
        calls.append(
            ToolCall(str(item.get("id") or new_id()), item["name"], _arguments_text(arguments))
        )
    return tuple(calls) or None


class OutputReader:
    """Output text in, settled pieces out: answer or reasoning text, and whole tool calls.

    The whitespace a reasoning model writes around its markers (``<think>\\n``,
    ``</think>\\n\\n``) is not text: the start of a thinking block and the answer after one
    (or after a tool call) are read without their leading whitespace.
    """

    def __init__(self, reading: OutputReading) -> None:
        self.reading = reading
        self.splitter = MarkupSplitter(reading.markup)
        self.kind: str | None = None  # of the last text piece read
        self.trimming: str | None = None  # the kind whose leading whitespace is still dropped

    def feed(self, text: str) -> list[OutputPiece]:
        if self.reading.plain:
            return [TextPiece("content", text)] if text else []
        return self._read(self.splitter.feed(text))

    def finish(self) -> list[OutputPiece]:
        if self.reading.plain:
            return []
        return self._read(self.splitter.finish())

    def _read(self, pieces: list[TextPiece | CallText]) -> list[OutputPiece]:
        out: list[OutputPiece] = []
        for piece in pieces:
            if isinstance(piece, TextPiece):
                trimmed = self._trim(piece)
                if trimmed.text:
                    out.append(trimmed)
                continue
            calls = parse_calls(piece, self.reading)
            if calls is None:
                out.append(TextPiece("content", piece.raw))
            else:
                out.extend(calls)
                # the newline between parallel calls (Hermes writes them one per line) is
                # no answer text: a turn of calls alone has no content
                self.kind = self.trimming = "content"
        return out

    def _trim(self, piece: TextPiece) -> TextPiece:
        if piece.kind != self.kind:
            opens = piece.kind == "reasoning" or self.kind == "reasoning"
            self.trimming = piece.kind if opens else None
            self.kind = piece.kind
        if self.trimming != piece.kind:
            return piece
        text = piece.text.lstrip()
        if text:
            self.trimming = None
        return attrs.evolve(piece, text=text)


@attrs.frozen(kw_only=True)
class ReadOutput:
    """A whole generation read: ``content`` None when there was no answer text."""

    content: str | None
    reasoning: str | None
    tool_calls: tuple[ToolCall, ...]


def read_output(text: str, reading: OutputReading) -> ReadOutput:
    """Read a whole generation's text at once.

    >>> from mlxfn.pipeline.markup import Markers
    >>> thinking = OutputReading(markup=OutputMarkup(thinking=Markers("<think>", "</think>")))
    >>> read_output("<think>hm</think>Yes.", thinking)
    ReadOutput(content='Yes.', reasoning='hm', tool_calls=())
    """
    reader = OutputReader(reading)
    pieces = reader.feed(text) + reader.finish()
    content = "".join(p.text for p in pieces if isinstance(p, TextPiece) and p.kind == "content")
    reasoning = "".join(
        p.text for p in pieces if isinstance(p, TextPiece) and p.kind == "reasoning"
    )
    calls = tuple(p for p in pieces if isinstance(p, ToolCall))
    return ReadOutput(
        content=content if content or not calls else None,
        reasoning=reasoning or None,
        tool_calls=calls,
    )


def _rfind(tokens: tuple[int, ...], marker: tuple[int, ...] | None) -> int:
    if not marker:
        return -1
    size = len(marker)
    for at in range(len(tokens) - size, -1, -1):
        if tokens[at : at + size] == marker:
            return at
    return -1


def opens_thinking(prompt: tuple[int, ...], start: tuple[int, ...], end: tuple[int, ...]) -> bool:
    """Whether the prompt leaves a thinking block open, so the output starts inside it.

    >>> opens_thinking((5, 7, 9), (9,), (10,)), opens_thinking((9, 3, 10, 4), (9,), (10,))
    (True, False)
    """
    return _rfind(prompt, start) > _rfind(prompt, end)


def build_reading(tools: ToolSpec | None, tokenizer: Any, prompt: tuple[int, ...]) -> OutputReading:
    """How to read what the model will write: thinking when its tokenizer has markers for it,
    tool calls when tools are offered (and not refused with ``tool_choice: none``), in the
    model's own markup or, where its template has none, in the generic format."""
    thinking: Markers | None = None
    starts = False
    if getattr(tokenizer, "has_thinking", False):
        thinking = Markers(tokenizer.think_start, tokenizer.think_end)
        starts = opens_thinking(
            prompt,
            tuple(tokenizer.think_start_tokens or ()),
            tuple(tokenizer.think_end_tokens or ()),
        )
    calls: Markers | None = None
    parse: ParseToolCall | None = None
    offered: tuple[dict[str, Any], ...] = ()
    generic = tool_format_of(tokenizer) == "generic"
    if tools is not None and tools.choice != "none":
        if generic:
            calls, parse = GENERIC_CALLS, parse_generic_call
        else:
            calls = Markers(tokenizer.tool_call_start, tokenizer.tool_call_end or "")
            parse = tokenizer.tool_parser
        offered = tuple(render_template_tool(t) for t in tools.tools)
    markup = OutputMarkup(calls=calls, thinking=thinking, starts_thinking=starts)
    return OutputReading(
        markup=markup,
        parse_call=parse,
        tools=offered,
        tool_format="generic" if generic and calls is not None else "native",
    )
