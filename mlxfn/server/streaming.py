"""Server-sent events for chat: role chunk, content deltas, finish chunk, usage, ``[DONE]``."""

from __future__ import annotations

import asyncio

from aiohttp import web

from mlxfn.domain.events import Delta, Event, Failed, Finished
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
    request: web.Request, meta: StreamMeta, events: asyncio.Queue[Event]
) -> web.StreamResponse:
    """Write the stream. After ``prepare`` no status can change: a failure is an error event."""
    response = web.StreamResponse(headers=SSE_HEADERS)
    await response.prepare(request)
    try:
        await _write_events(response, meta, events)
    except ConnectionResetError:  # the client left; the caller cancels its generation
        return response
    await response.write_eof()
    return response


async def _write_events(
    response: web.StreamResponse, meta: StreamMeta, events: asyncio.Queue[Event]
) -> None:
    await response.write(encode_event(render_role_chunk(meta)))
    while True:
        match await events.get():
            case Delta(text=text):
                await response.write(encode_event(render_delta_chunk(meta, text)))
            case Finished(reason=reason, usage=usage):
                frames = encode_event(render_finish_chunk(meta, reason))
                if meta.include_usage:
                    frames += encode_event(render_usage_chunk(meta, usage))
                await response.write(frames + DONE)
                break
            case Failed(error=error):
                await response.write(encode_event(render_error(error)))
                break
            case _:
                raise AssertionError("unreachable")
