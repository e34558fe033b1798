"""One request's text in flight: detokenizing, stop strings, usage, and its events.

The batch decides which token comes next; this decides what the client sees of it. It runs
once per token, so it is plain Python on purpose: a Result or a flow there costs microseconds
a token and adds nothing.

Logprobs follow the text. A token's logprob goes out with the ``Delta`` that carries the last
of the text the detokenizer gave out for it: the detokenizer may hold a token's text back (part
of a character, a lone space) and give it out with a later token's, and a stop string holds text
back until it is sure. Tokens whose text a stop string cuts (any of it at or past the stop's
start) are never reported, nor is the end-of-sequence token; so the tokens reported are those
whose text the content holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from mlxfn.domain.events import Delta, Event, Finished, FinishReason, TokenLogprob, Usage
from mlxfn.pipeline.plan import GenerationPlan
from mlxfn.pipeline.stops import first_stop, scan_for_stop

Sink = Callable[[Event], None]


class TextStream:
    """Turns generated token ids into ``Delta``s and one ``Finished`` for one choice.

    ``Finished`` is not sent here but left in ``final``: the batch frees the request's slot
    first, so a client that has seen ``Finished`` never finds its slot still taken.
    """

    def __init__(
        self, plan: GenerationPlan, sink: Sink, detokenizer: Any, cached: int, *, index: int = 0
    ) -> None:
        self.plan = plan
        self.index = index  # which of the plan's n choices this is
        self.sink = sink
        self.detokenizer = detokenizer
        self.cached = cached
        self.held = ""
        self.generated = 0
        self.final: Finished | None = None
        # Logprobs only: tokens whose text the detokenizer still holds, then tokens with the
        # character count their text ends at, waiting for the client to be sent that far.
        self.unplaced: list[TokenLogprob] = []
        self.placed: list[tuple[int, TokenLogprob]] = []
        self.produced = 0  # characters the detokenizer has given out
        self.sent = 0  # characters sent to the client

    @property
    def wants_logprobs(self) -> bool:
        return self.plan.top_logprobs is not None

    def on_token(
        self, token: int, eos: bool, at_limit: bool, scored: TokenLogprob | None = None
    ) -> bool:
        """Take one generated token (and its logprobs, when asked); True once finished."""
        self.generated += 1
        if eos:
            return self._finish("stop")
        self.detokenizer.add_token(token)
        if scored is not None:
            self.unplaced.append(scored)
        if self._emit(self.detokenizer.last_segment):
            return True
        if at_limit or self.generated >= self.plan.max_tokens:
            return self._finish("length")
        return False

    def _usage(self) -> Usage:
        return Usage(len(self.plan.prompt), self.generated, self.cached)

    def _place(self, text: str) -> None:
        if text and not self.produced and not self.plan.keep_leading_space:
            self._trim_leading_space(text)
        self.produced += len(text)
        if text and self.unplaced:
            self.placed.extend((self.produced, scored) for scored in self.unplaced)
            self.unplaced.clear()

    def _trim_leading_space(self, text: str) -> None:
        """Drop from the first tokens' reported text the leading space the detokenizer dropped
        from the reply (a chat answer's ``▁Hello`` reads ``Hello``), so that the tokens add
        up to the content. Measured against the text given out, not assumed: detokenizers
        differ in how many spaces they drop, and a text completion keeps them."""
        joined = "".join(scored.token for scored in self.unplaced)
        spaces = len(joined) - len(joined.lstrip(" "))
        dropped = next((k for k in range(spaces + 1) if joined[k:].startswith(text)), 0)
        for at, scored in enumerate(self.unplaced):
            if not dropped:
                return
            cut = min(dropped, len(scored.token) - len(scored.token.lstrip(" ")))
            if cut:
                self.unplaced[at] = attrs.evolve(
                    scored, token=scored.token[cut:], bytes=scored.bytes[cut:]
                )
            dropped -= cut
            if scored.token[cut:]:
                return

    def _release(self, count: int) -> tuple[TokenLogprob, ...]:
        """The logprobs of tokens whose text is all sent once ``count`` more characters are."""
        self.sent += count
        ready = 0
        while ready < len(self.placed) and self.placed[ready][0] <= self.sent:
            ready += 1
        if not ready:
            return ()
        released = tuple(scored for _, scored in self.placed[:ready])
        del self.placed[:ready]
        return released

    def _send(self, text: str) -> None:
        if self.unplaced or self.placed:
            released = self._release(len(text))
            if text or released:
                self.sink(Delta(text, released, index=self.index))
        elif text:
            self.sent += len(text)
            self.sink(Delta(text, index=self.index))

    def _emit(self, text: str) -> bool:
        """Send text on, minus any stop string; True when a stop string ended generation."""
        if self.wants_logprobs:
            self._place(text)
        if not self.plan.stop:
            self._send(text)
            return False
        scan = scan_for_stop(self.held, text, self.plan.stop)
        if scan.stopped:  # which stop it was, for the surfaces that report it
            found = first_stop(self.held + text, self.plan.stop)
            matched = None if found is None else found[1]
            self.final = Finished("stop", self._usage(), index=self.index, stop=matched)
        self.held = scan.held
        self._send(scan.emit)
        if scan.stopped:
            self.unplaced.clear()  # their text reaches into the stop string
            self.placed.clear()
        return scan.stopped

    def _finish(self, reason: FinishReason) -> bool:
        self.detokenizer.finalize()
        if self._emit(self.detokenizer.last_segment):
            return True
        if self.unplaced:  # tokens that gave no text at all (a special token, say)
            self.placed.extend((self.produced, scored) for scored in self.unplaced)
            self.unplaced.clear()
        self._send(self.held)  # held back in case a stop followed; none did
        self.held = ""
        self.final = Finished(reason, self._usage(), index=self.index)
        return True
