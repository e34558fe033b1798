"""Server-sent events for chat: role chunks, content deltas, finish chunks, usage, ``[DONE]``.

With ``n`` choices every chunk names its choice's index, and ``[DONE]`` follows the last
choice's finish chunk. Text is read as it comes (``OutputReader``, one per choice): reasoning
and tool calls get their own deltas.

``stream_events`` writes any stream (text completions' too): its frames come from a
``FrameWriter`` per request, and all that is queued goes out in one write.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, assert_never

from aiohttp import web

from mlxfn.domain.events import (
    Delta,
    Event,
    Failed,
    Finished,
    TokenLogprob,
    Usage,
    add_choice_usage,
)
from mlxfn.domain.messages import ToolCall
from mlxfn.pipeline.completion import finish_reason_of
from mlxfn.pipeline.markup import TextPiece
from mlxfn.pipeline.reading import PLAIN_READING, OutputPiece, OutputReader, OutputReading
from mlxfn.server.keys import CLIENT_LEFT
from mlxfn.wire.responses import (
    JSON,
    StreamMeta,
    render_delta_chunk,
    render_error,
    render_finish_chunk,
    render_reasoning_chunk,
    render_role_chunk,
    render_tool_call_chunks,
    render_usage_chunk,
)
from mlxfn.wire.sse import DONE, encode_event

SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
}


class FrameWriter(Protocol):
    """One stream's events → SSE frames; ``done`` once it has written its last frame."""

    done: bool

    def frames(self, event: Event) -> bytes: ...


async def stream_events(
    request: web.Request, opening: bytes, events: asyncio.Queue[Event], writer: FrameWriter
) -> web.StreamResponse:
    """Write a stream: ``opening``, then the writer's frames for each event until it is done.
    After ``prepare`` no status can change: a failure is an error event (the writer's)."""
    response = web.StreamResponse(headers=SSE_HEADERS)
    await response.prepare(request)
    try:
        if opening:
            await response.write(opening)
        while True:
            # everything that arrived while the last write was on its way goes out in one write
            frames = writer.frames(await events.get())
            while not writer.done and not events.empty():
                frames += writer.frames(events.get_nowait())
            if frames:
                await response.write(frames)
            if writer.done:
                break
    except ConnectionResetError:  # the client left; the caller cancels its generations
        request[CLIENT_LEFT] = True
        return response
    await response.write_eof()
    return response


async def stream_chat(
    request: web.Request,
    meta: StreamMeta,
    events: asyncio.Queue[Event],
    n: int = 1,
    reading: OutputReading = PLAIN_READING,
) -> web.StreamResponse:
    """A chat's stream: each choice's role chunk, then its deltas and finish chunk."""
    opening = b"".join(encode_event(render_role_chunk(meta, i)) for i in range(n))
    return await stream_events(request, opening, events, _ChunkWriter(meta, n, reading))


class _PieceChunks:
    """One choice's read pieces → chunks, numbering the tool calls of that choice. With
    logprobs asked for, a content chunk carries the logprobs that arrived up to it; those of
    text the reader turned into something else wait for the next content or the finish."""

    def __init__(self, meta: StreamMeta, reading: OutputReading, index: int) -> None:
        self.meta = meta
        self.reader = OutputReader(reading)
        self.index = index
        self.calls = 0
        self.logprobs: list[TokenLogprob] = []

    def feed(self, text: str, logprobs: tuple[TokenLogprob, ...] = ()) -> bytes:
        self.logprobs.extend(logprobs)
        return self.encode(self.reader.feed(text))

    def finish(self) -> bytes:
        return self.encode(self.reader.finish())

    def leftover(self) -> tuple[TokenLogprob, ...] | None:
        """The logprobs no content chunk carried, for the finish chunk (None: not asked for)."""
        return self._take() if self.meta.with_logprobs else None

    def _take(self) -> tuple[TokenLogprob, ...]:
        taken = tuple(self.logprobs)
        self.logprobs.clear()
        return taken

    def encode(self, pieces: list[OutputPiece]) -> bytes:
        frames = b""
        for piece in pieces:
            for chunk in self._chunks(piece):
                frames += encode_event(chunk)
        return frames

    def _chunks(self, piece: OutputPiece) -> list[JSON]:
        match piece:
            case TextPiece(kind="reasoning", text=text):
                return [render_reasoning_chunk(self.meta, text, self.index)]
            case TextPiece(text=text):
                logprobs = self._take() if self.meta.with_logprobs else None
                return [render_delta_chunk(self.meta, text, self.index, logprobs)]
            case ToolCall():
                self.calls += 1
                return render_tool_call_chunks(self.meta, self.calls - 1, piece, self.index)
            case _:
                assert_never(piece)


class _ChunkWriter:
    """A stream's events → SSE frames, ending with ``[DONE]`` after the last choice."""

    def __init__(self, meta: StreamMeta, n: int, reading: OutputReading) -> None:
        self.meta = meta
        self.n = n
        self.choices = [_PieceChunks(meta, reading, i) for i in range(n)]
        self.usage: Usage | None = None
        self.finished = 0
        self.done = False

    def frames(self, event: Event) -> bytes:
        meta = self.meta
        match event:
            case Delta(text=text, logprobs=scored, index=index):
                return self.choices[index].feed(text, scored)
            case Finished(reason=reason, usage=choice_usage, index=index):
                self.usage = add_choice_usage(self.usage, choice_usage)
                self.finished += 1
                choice = self.choices[index]
                frames = choice.finish()
                ending = finish_reason_of(reason, choice.calls > 0)
                frames += encode_event(render_finish_chunk(meta, ending, index, choice.leftover()))
                if self.finished < self.n:
                    return frames
                if meta.include_usage and self.usage is not None:
                    frames += encode_event(render_usage_chunk(meta, self.usage))
                self.done = True
                return frames + DONE
            case Failed(error=error):
                self.done = True
                return encode_event(render_error(error))
            case _:
                assert_never(event)
