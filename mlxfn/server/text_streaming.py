"""Server-sent events for text completions: ``text_completion`` chunks, one finish chunk per
choice, the usage chunk when asked, then ``[DONE]``.

With ``echo`` each choice's first chunk is its prompt's text. Logprobs ride with the text of
their tokens; their ``text_offset`` counts from the start of the choice's text, as in JSON.
"""

from __future__ import annotations

import asyncio
from typing import assert_never

from aiohttp import web

from mlxfn.domain.events import Delta, Event, Failed, Finished, ResponseMeta, Usage
from mlxfn.pipeline.text_completion import TextCompletionPlan, total_usage
from mlxfn.server.streaming import stream_events
from mlxfn.wire.completions import (
    TextOffset,
    render_legacy_logprobs,
    render_text_chunk,
    render_text_usage_chunk,
)
from mlxfn.wire.responses import render_error
from mlxfn.wire.sse import DONE, encode_event


async def stream_text_completion(
    request: web.Request,
    meta: ResponseMeta,
    events: asyncio.Queue[Event],
    plan: TextCompletionPlan,
    *,
    include_usage: bool = False,
    with_logprobs: bool = False,
) -> web.StreamResponse:
    """A text completion's stream: each choice's echo, then its text and finish chunk."""
    writer = _TextChunkWriter(meta, plan, include_usage=include_usage, with_logprobs=with_logprobs)
    return await stream_events(request, writer.opening(), events, writer)


class _TextChunkWriter:
    """A text completion's events → SSE frames, ending with ``[DONE]`` after the last choice."""

    def __init__(
        self,
        meta: ResponseMeta,
        plan: TextCompletionPlan,
        *,
        include_usage: bool,
        with_logprobs: bool,
    ) -> None:
        self.meta = meta
        self.plan = plan
        self.include_usage = include_usage
        self.with_logprobs = with_logprobs
        self.echoes = [plan.echoes[index // plan.n] for index in range(plan.choices)]
        self.offsets = [TextOffset(len(echo)) for echo in self.echoes]
        self.usages: list[tuple[int, Usage]] = []
        self.done = False

    def opening(self) -> bytes:
        empty, _ = render_legacy_logprobs(() if self.with_logprobs else None, TextOffset(0))
        return b"".join(
            encode_event(render_text_chunk(self.meta, index, echo, empty))
            for index, echo in enumerate(self.echoes)
            if echo
        )

    def frames(self, event: Event) -> bytes:
        meta, plan = self.meta, self.plan
        match event:
            case Delta(text=text, logprobs=scored, index=index):
                logprobs, self.offsets[index] = render_legacy_logprobs(
                    scored if self.with_logprobs else None, self.offsets[index]
                )
                return encode_event(render_text_chunk(meta, index, text, logprobs))
            case Finished(reason=reason, usage=usage, index=index):
                self.usages.append((index, usage))
                frames = encode_event(render_text_chunk(meta, index, "", None, reason))
                if len(self.usages) < plan.choices:
                    return frames
                if self.include_usage:
                    frames += encode_event(
                        render_text_usage_chunk(meta, total_usage(self.usages, plan.n))
                    )
                self.done = True
                return frames + DONE
            case Failed(error=error):
                self.done = True
                return encode_event(render_error(error))
            case _:
                assert_never(event)
