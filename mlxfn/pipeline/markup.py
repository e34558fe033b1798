"""The model's output text cut at its markers: answer text, thinking, and tool-call text.

Which markers a model uses is mlx-lm's knowledge (its tokenizer wrapper's ``think_start``,
``tool_call_start`` and their ends); this only finds them in text that arrives in pieces, so
a marker split across tokens is still found and never shows in the answer. It runs once per
generated piece of text, so it is plain Python: a Result or a flow per piece costs
microseconds a token and adds nothing.
"""

from __future__ import annotations

from typing import Literal

import attrs


@attrs.frozen
class Markers:
    """A start and an end marker; an empty end means the block runs to the end of output."""

    start: str = attrs.field(validator=attrs.validators.min_len(1))
    end: str


@attrs.frozen(kw_only=True)
class OutputMarkup:
    """The markers to look for in one generation. ``starts_thinking``: the prompt opened a
    thinking block (some templates do), so the output begins inside it."""

    calls: Markers | None = None
    thinking: Markers | None = None
    starts_thinking: bool = False

    @property
    def plain(self) -> bool:
        return self.calls is None and self.thinking is None


PLAIN: OutputMarkup = OutputMarkup()

TextKind = Literal["content", "reasoning"]


@attrs.frozen
class TextPiece:
    kind: TextKind
    text: str


@attrs.frozen
class CallText:
    """The text between a tool call's markers; ``raw`` is all of it as written, markers
    included, for when it does not parse. ``closed``: its end marker came."""

    body: str
    raw: str
    closed: bool = True


Piece = TextPiece | CallText

_State = Literal["content", "reasoning", "call"]


def _held_back(text: str, markers: tuple[str, ...]) -> int:
    """How many characters at the end of ``text`` could begin one of ``markers``."""
    longest = 0
    for marker in markers:
        for size in range(min(len(marker) - 1, len(text)), longest, -1):
            if marker.startswith(text[-size:]):
                longest = size
                break
    return longest


class MarkupSplitter:
    """Feed it output text as it comes; it returns the pieces that are settled so far.

    >>> splitter = MarkupSplitter(OutputMarkup(calls=Markers("<tool_call>", "</tool_call>")))
    >>> splitter.feed("Sure.<tool")
    [TextPiece(kind='content', text='Sure.')]
    >>> splitter.feed('_call>{"a": 1}</tool_call>')[0].body
    '{"a": 1}'
    """

    def __init__(self, markup: OutputMarkup) -> None:
        self.markup = markup
        self.state: _State = (
            "reasoning" if markup.starts_thinking and markup.thinking else "content"
        )
        self.pending = ""  # text not yet settled: it may begin a marker
        self.call = ""  # the call's body so far

    def feed(self, text: str) -> list[Piece]:
        self.pending += text
        pieces: list[Piece] = []
        while self._advance(pieces):
            pass
        return pieces

    def finish(self) -> list[Piece]:
        """The rest, once the output has ended: held text is what it looked like, and a call
        whose end never came is returned unclosed."""
        pieces = self.feed("")
        rest, self.pending = self.pending, ""
        if self.state == "call":
            calls = self.markup.calls
            assert calls is not None  # only entered when calls are looked for
            body = self.call + rest
            self.call = ""
            self.state = "content"
            pieces.append(CallText(body, calls.start + body, closed=not calls.end))
        elif rest:
            _add_text(pieces, self.state, rest)
        return pieces

    def _watched(self) -> tuple[str, ...]:
        calls, thinking = self.markup.calls, self.markup.thinking
        match self.state:
            case "content":
                return tuple(m.start for m in (calls, thinking) if m is not None)
            case "reasoning":
                return (thinking.end,) if thinking is not None and thinking.end else ()
            case "call":
                return (calls.end,) if calls is not None and calls.end else ()

    def _advance(self, pieces: list[Piece]) -> bool:
        """Settle what can be settled; True when a marker was passed and more may follow."""
        watched = self._watched()
        found = [(at, m) for m in watched if (at := self.pending.find(m)) >= 0]
        if not found:
            keep = _held_back(self.pending, watched)
            settled = self.pending[: len(self.pending) - keep]
            self.pending = self.pending[len(settled) :]
            if self.state == "call":
                self.call += settled
            elif settled:
                _add_text(pieces, self.state, settled)
            return False
        at, marker = min(found)
        before, self.pending = self.pending[:at], self.pending[at + len(marker) :]
        self._cross(pieces, before, marker)
        return True

    def _cross(self, pieces: list[Piece], before: str, marker: str) -> None:
        calls, thinking = self.markup.calls, self.markup.thinking
        if self.state == "call":
            assert calls is not None
            body, self.call = self.call + before, ""
            pieces.append(CallText(body, calls.start + body + calls.end))
            self.state = "content"
            return
        if before:
            _add_text(pieces, self.state, before)
        if self.state == "reasoning":
            self.state = "content"
        elif calls is not None and marker == calls.start:
            self.state = "call"
        elif thinking is not None and marker == thinking.start:
            self.state = "reasoning"


def _add_text(pieces: list[Piece], kind: TextKind, text: str) -> None:
    last = pieces[-1] if pieces else None
    if isinstance(last, TextPiece) and last.kind == kind:
        pieces[-1] = TextPiece(kind, last.text + text)
    else:
        pieces.append(TextPiece(kind, text))
