"""One generation in flight: the per-token loop, kept plain Python and MLX on purpose.

A plan goes in; ``Event`` values come out through ``sink``. Nothing here is a Result: at one
call per token those wrappers cost time and add nothing (the engine wraps each side once).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import cast

import mlx.core as mx
from mlx_lm.generate import generate_step

from mlxfn.domain.events import Delta, Event, Finished, FinishReason, Usage
from mlxfn.engine.loader import LoadedModel
from mlxfn.engine.sampling import make_sampler
from mlxfn.pipeline.plan import GenerationPlan
from mlxfn.pipeline.stops import scan_for_stop

Sink = Callable[[Event], None]


class Sequence:
    """Generates one completion a token at a time; ``step`` returns True once it has finished."""

    def __init__(self, loaded: LoadedModel, plan: GenerationPlan, sink: Sink) -> None:
        self.plan = plan
        self.sink = sink
        self.eos = loaded.eos_token_ids
        self.detokenizer = loaded.tokenizer.detokenizer
        self.held = ""
        self.generated = 0
        # generate_step's annotation says mx.array, but it yields the token as a plain int.
        self.tokens = cast(
            Iterator[tuple[int, mx.array]],
            generate_step(
                mx.array(plan.prompt),
                loaded.model,
                sampler=make_sampler(plan.sampling),
                max_tokens=plan.max_tokens,
            ),
        )

    def step(self) -> bool:
        token, _ = next(self.tokens)  # the first call prefills the prompt
        self.generated += 1
        if token in self.eos:
            return self._finish("stop")
        self.detokenizer.add_token(token)
        if self._emit(self.detokenizer.last_segment):
            return True
        if self.generated >= self.plan.max_tokens:
            return self._finish("length")
        return False

    def close(self) -> None:
        """Drop the generator and with it the KV cache."""
        close = getattr(self.tokens, "close", None)
        if close is not None:
            close()

    def _usage(self) -> Usage:
        return Usage(len(self.plan.prompt), self.generated)

    def _emit(self, text: str) -> bool:
        """Send text on, minus any stop string; True when a stop string ended generation."""
        if not self.plan.stop:
            if text:
                self.sink(Delta(text))
            return False
        scan = scan_for_stop(self.held, text, self.plan.stop)
        self.held = scan.held
        if scan.emit:
            self.sink(Delta(scan.emit))
        if scan.stopped:
            self.sink(Finished("stop", self._usage()))
        return scan.stopped

    def _finish(self, reason: FinishReason) -> bool:
        self.detokenizer.finalize()
        if self._emit(self.detokenizer.last_segment):
            return True
        if self.held:  # held back in case a stop followed; none did
            self.sink(Delta(self.held))
        self.sink(Finished(reason, self._usage()))
        return True
