"""Server-sent events for text completions: ``text_completion`` chunks, one finish chunk per
choice, the usage chunk when asked, then ``[DONE]``.

With ``echo`` each choice's first chunk is its prompt's text. Logprobs ride with the text of
their tokens; their ``text_offset`` counts from the start of the choice's text, as in JSON.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from mlxfn.domain.events import Delta, Event, Failed, Finished, ResponseMeta, Usage
from mlxfn.pipeline.text_completion import TextCompletionPlan, total_usage
from mlxfn.server.streaming import SSE_HEADERS
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
    """Write the stream. After ``prepare`` no status can change: a failure is an error event."""
    response = web.StreamResponse(headers=SSE_HEADERS)
    await response.prepare(request)
    try:
        await _write_events(
            response, meta, events, plan, include_usage=include_usage, with_logprobs=with_logprobs
        )
    except ConnectionResetError:  # the client left; the caller cancels its generations
        return response
    await response.write_eof()
    return response


async def _write_events(
    response: web.StreamResponse,
    meta: ResponseMeta,
    events: asyncio.Queue[Event],
    plan: TextCompletionPlan,
    *,
    include_usage: bool,
    with_logprobs: bool,
) -> None:
    echoes = [plan.echoes[index // plan.n] for index in range(plan.choices)]
    offsets = [TextOffset(len(echo)) for echo in echoes]
    empty, _ = render_legacy_logprobs(() if with_logprobs else None, TextOffset(0))
    opening = b"".join(
        encode_event(render_text_chunk(meta, index, echo, empty))
        for index, echo in enumerate(echoes)
        if echo
    )
    if opening:
        await response.write(opening)
    usages: list[tuple[int, Usage]] = []
    while True:
        match await events.get():
            case Delta(text=text, logprobs=scored, index=index):
                logprobs, offsets[index] = render_legacy_logprobs(
                    scored if with_logprobs else None, offsets[index]
                )
                await response.write(encode_event(render_text_chunk(meta, index, text, logprobs)))
            case Finished(reason=reason, usage=usage, index=index):
                usages.append((index, usage))
                frames = encode_event(render_text_chunk(meta, index, "", None, reason))
                if len(usages) < plan.choices:
                    await response.write(frames)
                    continue
                if include_usage:
                    frames += encode_event(
                        render_text_usage_chunk(meta, total_usage(usages, plan.n))
                    )
                await response.write(frames + DONE)
                break
            case Failed(error=error):
                await response.write(encode_event(render_error(error)))
                break
            case _:
                raise AssertionError("unreachable")
