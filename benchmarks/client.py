"""The HTTP load driver: OpenAI chat requests over aiohttp, streamed (SSE) or not, timed.

A request's time to first token is when the first non-empty content delta arrives; its output
tokens come from ``usage`` when the server reports it (``stream_options.include_usage``),
else from the number of content deltas.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from benchmarks.measure import RepetitionResult, RequestResult, burst_extra, multiturn_extra
from benchmarks.workload import (
    BURST_JOIN_AFTER,
    BURST_STREAM_FACTOR,
    Conversation,
    Message,
    Scenario,
    follow_up_turn,
)

REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=1800, sock_connect=30)


@dataclass(frozen=True)
class Target:
    name: str
    base_url: str  # http://127.0.0.1:PORT
    model: str  # the id to send as "model"
    body_extra: Mapping[str, Any] = field(default_factory=dict)  # more fields for every body


def _body(target: Target, messages: Sequence[Message], max_tokens: int, stream: bool) -> bytes:
    body: dict[str, Any] = {
        "model": target.model,
        "messages": list(messages),
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": stream,
        **target.body_extra,
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    return json.dumps(body).encode()


def _content_of(chunk: dict[str, Any]) -> str:
    choices = chunk.get("choices") or []
    if not choices:
        return ""
    holder = choices[0].get("delta") or choices[0].get("message") or {}
    content = holder.get("content")
    return content if isinstance(content, str) else ""


def _usage_of(chunk: dict[str, Any]) -> tuple[int | None, int | None]:
    usage = chunk.get("usage")
    if not isinstance(usage, dict):
        return None, None
    return usage.get("prompt_tokens"), usage.get("completion_tokens")


async def send_chat(
    session: aiohttp.ClientSession,
    target: Target,
    messages: Sequence[Message],
    *,
    max_tokens: int,
    stream: bool,
    clock: float,
    on_delta: Callable[[int], None] | None = None,
) -> RequestResult:
    """Send one chat completion; times are relative to ``clock`` (a perf_counter reading)."""
    start = time.perf_counter()
    times: list[float] = []
    parts: list[str] = []
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: str | None = None
    try:
        async with session.post(
            f"{target.base_url}/v1/chat/completions",
            data=_body(target, messages, max_tokens, stream),
            headers={"Content-Type": "application/json"},
        ) as response:
            if response.status != 200:
                error = f"HTTP {response.status}: {(await response.text())[:300]}"
            elif stream:
                error = "the stream ended without data: [DONE]"  # until it arrives
                async for raw in response.content:
                    line = raw.strip()
                    if not line.startswith(b"data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == b"[DONE]":
                        error = None
                        break
                    chunk = json.loads(payload)
                    if "error" in chunk:
                        error = f"stream error: {json.dumps(chunk['error'])[:300]}"
                        break
                    text = _content_of(chunk)
                    if text:
                        times.append(time.perf_counter() - clock)
                        parts.append(text)
                        if on_delta is not None:
                            on_delta(len(parts))
                    p, c = _usage_of(chunk)
                    if c is not None:
                        prompt_tokens, completion_tokens = p, c
            else:
                reply = await response.json(content_type=None)
                parts.append(_content_of(reply))
                prompt_tokens, completion_tokens = _usage_of(reply)
    except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    end = time.perf_counter()
    return RequestResult(
        start_s=start - clock,
        ttft_s=times[0] - (start - clock) if times else None,
        token_times_s=tuple(times),
        total_s=end - start,
        output_tokens=completion_tokens if completion_tokens is not None else len(parts),
        prompt_tokens=prompt_tokens,
        usage_reported=completion_tokens is not None,
        text="".join(parts),
        error=error,
    )


def _wall(requests: Sequence[RequestResult]) -> float:
    return max(r.start_s + r.total_s for r in requests)


async def run_wave(
    session: aiohttp.ClientSession,
    target: Target,
    scenario: Scenario,
    conversation: Conversation,
    max_tokens: int,
) -> RepetitionResult:
    """All requests at once; output tok/s is their tokens over first send to last finish."""
    clock = time.perf_counter()
    results = await asyncio.gather(
        *(
            send_chat(
                session, target, m, max_tokens=max_tokens, stream=scenario.stream, clock=clock
            )
            for m in conversation.requests
        )
    )
    return RepetitionResult(wall_s=_wall(results), requests=tuple(results))


async def run_multiturn(
    session: aiohttp.ClientSession,
    target: Target,
    conversation: Conversation,
    max_tokens: int,
) -> RepetitionResult:
    """A cold first turn, then the follow-up that extends it: warm/cold TTFT shows prefix reuse."""
    clock = time.perf_counter()
    first_turn = conversation.requests[0]
    first = await send_chat(
        session, target, first_turn, max_tokens=max_tokens, stream=True, clock=clock
    )
    second = await send_chat(
        session,
        target,
        follow_up_turn(first_turn, first.text),
        max_tokens=max_tokens,
        stream=True,
        clock=clock,
    )
    return RepetitionResult(
        wall_s=_wall((first, second)),
        requests=(first, second),
        extra=multiturn_extra(first.ttft_s, second.ttft_s),
    )


async def run_burst(
    session: aiohttp.ClientSession,
    target: Target,
    conversation: Conversation,
    max_tokens: int,
) -> RepetitionResult:
    """Short streams run; once each has a quarter of its tokens, a long prompt arrives."""
    *streams, long_prompt = conversation.requests
    stream_tokens = max_tokens * BURST_STREAM_FACTOR
    join_at = max(1, int(stream_tokens * BURST_JOIN_AFTER))
    progress = [0] * len(streams)
    ready = asyncio.Event()

    def tracker(index: int) -> Callable[[int], None]:
        def on_delta(count: int) -> None:
            progress[index] = count
            if min(progress) >= join_at:
                ready.set()

        return on_delta

    clock = time.perf_counter()
    running = [
        asyncio.ensure_future(
            send_chat(
                session,
                target,
                m,
                max_tokens=stream_tokens,
                stream=True,
                clock=clock,
                on_delta=tracker(i),
            )
        )
        for i, m in enumerate(streams)
    ]
    everyone_done = asyncio.ensure_future(asyncio.wait(running))
    waiter = asyncio.ensure_future(ready.wait())
    await asyncio.wait({waiter, everyone_done}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    joined_s = time.perf_counter() - clock
    long_result = await send_chat(
        session, target, long_prompt, max_tokens=max_tokens, stream=True, clock=clock
    )
    stream_results = [await task for task in running]
    return RepetitionResult(
        wall_s=_wall((*stream_results, long_result)),
        requests=(*stream_results, long_result),
        extra=burst_extra(stream_results, long_result.ttft_s, joined_s),
    )


async def run_repetition(
    session: aiohttp.ClientSession,
    target: Target,
    scenario: Scenario,
    conversation: Conversation,
    max_tokens: int,
) -> RepetitionResult:
    match scenario.kind:
        case "wave":
            return await run_wave(session, target, scenario, conversation, max_tokens)
        case "multiturn":
            return await run_multiturn(session, target, conversation, max_tokens)
        case "burst":
            return await run_burst(session, target, conversation, max_tokens)


def make_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        timeout=REQUEST_TIMEOUT, connector=aiohttp.TCPConnector(limit=0, force_close=False)
    )
