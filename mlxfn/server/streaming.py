"""Server-sent events for chat: role chunks, content deltas, finish chunks, usage, ``[DONE]``.

With ``n`` choices every chunk names its choice's index, and ``[DONE]`` follows the last
choice's finish chunk."""

from __future__ import annotations

import asyncio

from aiohttp import web

from mlxfn.domain.events import Delta, Event, Failed, Finished, Usage, add_choice_usage
from mlxfn.wire.responses import (
    StreamMeta,
    render_delta_chunk,
    render_error,
    render_finish_chunk,
    render_role_chunk,
    render_usage_chunk,
)
from mlxfn.wire.sse import DONE, encode_event

SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
}


async def stream_chat(
    request: web.Request, meta: StreamMeta, events: asyncio.Queue[Event], n: int = 1
) -> web.StreamResponse:
    """Write the stream. After ``prepare`` no status can change: a failure is an error event."""
    response = web.StreamResponse(headers=SSE_HEADERS)
    await response.prepare(request)
    try:
        await _write_events(response, meta, events, n)
    except ConnectionResetError:  # the client left; the caller cancels its generation
        return response
    await response.write_eof()
    return response


async def _write_events(
    response: web.StreamResponse, meta: StreamMeta, events: asyncio.Queue[Event], n: int
) -> None:
    await response.write(b"".join(encode_event(render_role_chunk(meta, i)) for i in range(n)))
    usage: Usage | None = None
    finished = 0
    while True:
        match await events.get():
            case Delta(text=text, index=index):
                await response.write(encode_event(render_delta_chunk(meta, text, index)))
            case Finished(reason=reason, usage=choice_usage, index=index):
                usage = add_choice_usage(usage, choice_usage)
                finished += 1
                frames = encode_event(render_finish_chunk(meta, reason, index))
                if finished < n:
                    await response.write(frames)
                    continue
                if meta.include_usage:
                    frames += encode_event(render_usage_chunk(meta, usage))
                await response.write(frames + DONE)
                break
            case Failed(error=error):
                await response.write(encode_event(render_error(error)))
                break
            case _:
                raise AssertionError("unreachable")
