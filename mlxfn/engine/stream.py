"""One request's text in flight: detokenizing, stop strings, usage, and its events.

The batch decides which token comes next; this decides what the client sees of it. It runs
once per token, so it is plain Python on purpose (no Result, no flow: P16).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlxfn.domain.events import Delta, Event, Finished, FinishReason, Usage
from mlxfn.pipeline.plan import GenerationPlan
from mlxfn.pipeline.stops import scan_for_stop

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

    def on_token(self, token: int, eos: bool, at_limit: bool) -> bool:
        """Take one generated token; True once the request has finished."""
        self.generated += 1
        if eos:
            return self._finish("stop")
        self.detokenizer.add_token(token)
        if self._emit(self.detokenizer.last_segment):
            return True
        if at_limit or self.generated >= self.plan.max_tokens:
            return self._finish("length")
        return False

    def _usage(self) -> Usage:
        return Usage(len(self.plan.prompt), self.generated, self.cached)

    def _emit(self, text: str) -> bool:
        """Send text on, minus any stop string; True when a stop string ended generation."""
        if not self.plan.stop:
            if text:
                self.sink(Delta(text, index=self.index))
            return False
        scan = scan_for_stop(self.held, text, self.plan.stop)
        self.held = scan.held
        if scan.emit:
            self.sink(Delta(scan.emit, index=self.index))
        if scan.stopped:
            self.final = Finished("stop", self._usage(), index=self.index)
        return scan.stopped

    def _finish(self, reason: FinishReason) -> bool:
        self.detokenizer.finalize()
        if self._emit(self.detokenizer.last_segment):
            return True
        if self.held:  # held back in case a stop followed; none did
            self.sink(Delta(self.held, index=self.index))
        self.final = Finished(reason, self._usage(), index=self.index)
        return True
