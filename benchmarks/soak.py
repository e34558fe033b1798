"""Soak: many clients for minutes against one `python -m mlxfn`, with faults mixed in.

    python -m benchmarks.soak --model DIR --clients 16 --minutes 10
    python -m benchmarks.soak --model A --model B --minutes 5 -- --models-memory 1

With several ``--model`` folders each request names one of them at random, so a tight
``--models-memory`` makes the server unload and reload models all through the run.

Each client loops over a mix of requests: streams read to the end, non-streaming requests,
streams dropped after their first chunk (a disconnect mid-generation), oversized bodies,
malformed JSON, invalid fields, unknown models and routes, requests over the context, and
requests with a wrong API key, on chat completions, the Responses API and Anthropic's Messages
API alike. Every answer is checked: a success must be whole (a chat stream ends with [DONE], a
Responses stream with response.completed or response.incomplete, a Messages stream with
message_stop; a completion has usage), a refusal must be a 4xx with its surface's error body
(OpenAI's, or Anthropic's on /v1/messages).
At the end it prints requests done per kind, answers by status, the 5xx count (must be 0),
requests that hung or came back malformed (must be 0), and the server's RSS at start, after
warm-up and at the end; it exits 1 if any check failed. It is not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import aiohttp

from benchmarks.servers import free_port, read_memory

REQUEST_TIMEOUT_S = 300.0
READY_TIMEOUT_S = 180.0
ERROR_KEYS = {"message", "type", "param", "code"}
ANTHROPIC_ERROR_KEYS = {"type", "message"}


@dataclass
class Tally:
    by_kind: collections.Counter[str] = field(default_factory=collections.Counter)
    by_status: collections.Counter[int] = field(default_factory=collections.Counter)
    problems: list[str] = field(default_factory=list)
    tokens: int = 0

    def problem(self, kind: str, what: str) -> None:
        if len(self.problems) < 50:
            self.problems.append(f"{kind}: {what}")
        else:
            self.problems.append("…")


@dataclass(frozen=True)
class Target:
    url: str
    model: str
    headers: dict[str, str]
    models: tuple[str, ...] = ()  # each request names one of these, when there are several


def _chat(target: Target, content: str, **fields: object) -> dict[str, object]:
    return {
        "model": target.model,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": 24,
        **fields,
    }


async def _check_error(kind: str, response: aiohttp.ClientResponse, tally: Tally) -> None:
    body = await response.read()
    anthropic = response.url.path.startswith("/v1/messages")
    try:
        reply = json.loads(body)
        error = reply["error"]
        keys = set(error)
    except (ValueError, KeyError, TypeError):
        tally.problem(kind, f"{response.status} without an error body: {body[:120]!r}")
        return
    if anthropic and (reply.get("type") != "error" or keys != ANTHROPIC_ERROR_KEYS):
        tally.problem(kind, f"{response.status} is not Anthropic's error body: {body[:120]!r}")
    elif not anthropic and keys != ERROR_KEYS:
        tally.problem(kind, f"{response.status} error body keys {sorted(error)}")


def _event_types(text: str) -> list[str]:
    """The ``type`` of each JSON event in a Responses or Messages stream."""
    # SSE lines end at \n only: str.splitlines would also cut at U+2028 or U+0085, which a
    # random model's text may hold inside a JSON string
    datas = (line.removeprefix("data: ") for line in text.split("\n"))
    return [json.loads(data)["type"] for data in datas if data.startswith("{")]


def _responses(target: Target, text: str, **fields: object) -> dict[str, object]:
    return {"model": target.model, "input": text, "max_output_tokens": 24, **fields}


def _messages(target: Target, text: str, **fields: object) -> dict[str, object]:
    return {
        "model": target.model,
        "messages": [{"role": "user", "content": text}],
        "max_tokens": 24,
        **fields,
    }


async def _answer(
    session: aiohttp.ClientSession,
    target: Target,
    tally: Tally,
    kind: str,
    *,
    path: str,
    body: object,
) -> str | None:
    """POST ``body``; the answer's text if it is a 200, else None once its error is checked."""
    async with session.post(f"{target.url}{path}", json=body) as response:
        tally.by_status[response.status] += 1
        if response.status != 200:
            await _check_error(kind, response, tally)
            return None
        return await response.text()


async def responses_stream(session: aiohttp.ClientSession, target: Target, tally: Tally) -> None:
    body = _responses(target, "tell me about the sea", stream=True)
    text = await _answer(
        session, target, tally, "responses_stream", path="/v1/responses", body=body
    )
    if text is None:
        return
    kinds = _event_types(text)
    if not kinds or kinds[-1] not in ("response.completed", "response.incomplete"):
        tally.problem("responses_stream", f"did not end with completed: {text[-120:]!r}")
        return
    tally.tokens += kinds.count("response.output_text.delta")


async def messages_stream(session: aiohttp.ClientSession, target: Target, tally: Tally) -> None:
    body = _messages(target, "tell me about the hills", stream=True)
    text = await _answer(session, target, tally, "messages_stream", path="/v1/messages", body=body)
    if text is None:
        return
    kinds = _event_types(text)
    if not kinds or kinds[0] != "message_start" or kinds[-1] != "message_stop":
        tally.problem("messages_stream", f"not a whole message stream: {text[-120:]!r}")
        return
    tally.tokens += kinds.count("content_block_delta")


async def messages_complete(session: aiohttp.ClientSession, target: Target, tally: Tally) -> None:
    body = _messages(target, "what is three plus four?")
    answer = await _answer(
        session, target, tally, "messages_complete", path="/v1/messages", body=body
    )
    if answer is None:
        return
    reply = json.loads(answer)
    if reply.get("type") != "message" or reply.get("usage", {}).get("output_tokens", 0) < 1:
        tally.problem("messages_complete", f"no usage: {str(reply)[:120]}")
        return
    tally.tokens += reply["usage"]["output_tokens"]


async def stream(session: aiohttp.ClientSession, target: Target, tally: Tally) -> None:
    body = _chat(target, "tell me about the weather", stream=True)
    text = await _answer(session, target, tally, "stream", path="/v1/chat/completions", body=body)
    if text is None:
        return
    frames = [f for f in text.split("\n\n") if f.strip()]
    if not frames or frames[-1] != "data: [DONE]":
        tally.problem("stream", f"did not end with [DONE]: {text[-120:]!r}")
        return
    tally.tokens += sum(1 for f in frames[:-1] if '"content"' in f)


async def complete(session: aiohttp.ClientSession, target: Target, tally: Tally) -> None:
    body = _chat(target, "what is two plus two?")
    answer = await _answer(
        session, target, tally, "complete", path="/v1/chat/completions", body=body
    )
    if answer is None:
        return
    reply = json.loads(answer)
    if reply.get("usage", {}).get("completion_tokens", 0) < 1:
        tally.problem("complete", f"no usage: {str(reply)[:120]}")
        return
    tally.tokens += reply["usage"]["completion_tokens"]


async def disconnect(session: aiohttp.ClientSession, target: Target, tally: Tally) -> None:
    body = _chat(target, "count to one hundred", stream=True, max_tokens=200)
    async with session.post(f"{target.url}/v1/chat/completions", json=body) as response:
        tally.by_status[response.status] += 1
        if response.status == 200:
            await response.content.readuntil(b"\n\n")  # the first chunk, then hang up
            response.close()
        else:
            await _check_error("disconnect", response, tally)


def _refusal(
    name: str, make: Callable[[Target], tuple[str, str, bytes, dict[str, str]]]
) -> Callable[[aiohttp.ClientSession, Target, Tally], Awaitable[None]]:
    async def send(session: aiohttp.ClientSession, target: Target, tally: Tally) -> None:
        method, path, data, headers = make(target)
        async with session.request(
            method, f"{target.url}{path}", data=data, headers=headers
        ) as response:
            tally.by_status[response.status] += 1
            if not 400 <= response.status < 500:
                tally.problem(name, f"expected a 4xx, got {response.status}")
            await _check_error(name, response, tally)

    send.__name__ = name
    return send


_JSON = {"Content-Type": "application/json"}
REFUSALS = [
    _refusal("oversize", lambda t: ("POST", "/v1/chat/completions", b"x" * (17 << 20), _JSON)),
    _refusal("malformed", lambda t: ("POST", "/v1/chat/completions", b'{"model": ', _JSON)),
    _refusal(
        "invalid-field",
        lambda t: (
            "POST",
            "/v1/chat/completions",
            json.dumps(_chat(t, "hi", temperature=9)).encode(),
            _JSON,
        ),
    ),
    _refusal(
        "unknown-model",
        lambda t: (
            "POST",
            "/v1/chat/completions",
            json.dumps({**_chat(t, "hi"), "model": "gpt-nope"}).encode(),
            _JSON,
        ),
    ),
    _refusal("unknown-route", lambda t: ("GET", "/v1/nowhere", b"", {})),
    _refusal(
        "wrong-key",
        lambda t: ("GET", "/v1/models", b"", {"Authorization": "Bearer sk-not-the-key"}),
    ),
    _refusal(
        "responses-invalid-field",
        lambda t: (
            "POST",
            "/v1/responses",
            json.dumps(_responses(t, "hi", temperature=9)).encode(),
            _JSON,
        ),
    ),
    _refusal("messages-malformed", lambda t: ("POST", "/v1/messages", b'{"model": ', _JSON)),
    _refusal(
        "messages-no-max-tokens",
        lambda t: (
            "POST",
            "/v1/messages",
            json.dumps({**_messages(t, "hi"), "max_tokens": None}).encode(),
            _JSON,
        ),
    ),
    _refusal(
        "messages-unknown-model",
        lambda t: (
            "POST",
            "/v1/messages",
            json.dumps({**_messages(t, "hi"), "model": "claude-nope"}).encode(),
            _JSON,
        ),
    ),
    _refusal(
        "messages-wrong-key",
        lambda t: (
            "POST",
            "/v1/messages",
            json.dumps(_messages(t, "hi")).encode(),
            {**_JSON, "x-api-key": "sk-not-the-key", "Authorization": ""},
        ),
    ),
    _refusal(
        "over-context",
        lambda t: (
            "POST",
            "/v1/chat/completions",
            json.dumps(_chat(t, "word " * 40_000)).encode(),
            _JSON,
        ),
    ),
]
# Mostly real work, with every fault in the mix.
MIX: list[tuple[Callable[[aiohttp.ClientSession, Target, Tally], Awaitable[None]], int]] = [
    (stream, 10),
    (complete, 6),
    (disconnect, 4),
    (responses_stream, 3),
    (messages_stream, 3),
    (messages_complete, 2),
    *((refusal, 1) for refusal in REFUSALS),
]


async def client(target: Target, tally: Tally, until: float, seed: int) -> None:
    rng = random.Random(seed)
    kinds, weights = zip(*MIX, strict=True)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout, headers=target.headers) as session:
        while time.monotonic() < until:
            (kind,) = rng.choices(kinds, weights)
            tally.by_kind[kind.__name__] += 1
            aimed = replace(target, model=rng.choice(target.models)) if target.models else target
            try:
                await kind(session, aimed, tally)
            except TimeoutError:
                tally.problem(kind.__name__, f"no answer within {REQUEST_TIMEOUT_S:.0f} s")
            except aiohttp.ClientError as exc:
                tally.problem(kind.__name__, f"{type(exc).__name__}: {exc}")


async def sample_rss(pid: int, samples: list[str]) -> None:
    """The server's RSS once a minute, to tell a bounded cache filling from a leak."""
    while True:
        await asyncio.sleep(60)
        memory = read_memory(pid)
        samples.append(f"{memory.rss_mb:.0f}" if memory else "n/a")


async def model_loads(url: str) -> str:
    """How often each model was loaded, from ``/metrics``: reloads after eviction show here."""
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        text = await response.text()
    prefix = "mlxfn_model_loads_total"
    return " ".join(
        line.removeprefix(prefix) for line in text.splitlines() if line.startswith(prefix)
    )


async def wait_ready(url: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"{url}/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
    raise SystemExit(f"the server did not become ready within {READY_TIMEOUT_S:.0f} s")


async def soak(args: argparse.Namespace) -> int:
    port = free_port()
    key = "sk-soak"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "mlxfn", "--port", str(port)),
        *(word for model in args.model for word in ("--model", str(model))),
        *("--api-key", key, "--log-level", "warning", *args.server_args),
        stdout=asyncio.subprocess.DEVNULL,
    )
    ids = tuple(model.resolve().name for model in args.model)
    target = Target(
        f"http://127.0.0.1:{port}",
        args.served_name,
        {"Authorization": f"Bearer {key}"},
        ids if len(ids) > 1 else (),
    )
    try:
        await wait_ready(target.url)
        rss_start = read_memory(process.pid)
        warm = Tally()
        await client(target, warm, time.monotonic() + 10, seed=-1)
        rss_warm = read_memory(process.pid)
        tally = Tally()
        started = time.monotonic()
        until = started + args.minutes * 60
        samples: list[str] = []
        sampler = asyncio.create_task(sample_rss(process.pid, samples))
        await asyncio.gather(*(client(target, tally, until, seed) for seed in range(args.clients)))
        sampler.cancel()
        elapsed = time.monotonic() - started
        await asyncio.sleep(2)  # let the engine settle before the last reading
        rss_end = read_memory(process.pid)
        loads = await model_loads(target.url)
        alive = process.returncode is None
    finally:
        process.terminate()
        await process.wait()
    print(
        f"{args.clients} clients for {elapsed / 60:.1f} min against "
        f"{' '.join(map(str, args.model))} {' '.join(args.server_args)}"
    )
    print(
        f"requests: {sum(tally.by_kind.values())}  "
        + ", ".join(f"{kind} {count}" for kind, count in sorted(tally.by_kind.items()))
    )
    print(
        "answers by status: "
        + ", ".join(f"{status}: {count}" for status, count in sorted(tally.by_status.items()))
    )
    server_errors = sum(n for status, n in tally.by_status.items() if status >= 500)
    print(f"5xx: {server_errors}   hung or malformed: {len(tally.problems)}")
    print(f"content chunks and completion tokens received: {tally.tokens}")
    for label, memory in (("start", rss_start), ("after warm-up", rss_warm), ("end", rss_end)):
        print(f"server RSS {label}: {memory.rss_mb:.0f} MB" if memory else f"RSS {label}: n/a")
    print(f"server RSS each minute (MB): {' '.join(samples)}")
    for problem in tally.problems:
        print(f"  problem: {problem}")
    print(f"model loads: {loads}")
    print(f"server still running at the end: {alive}")
    return 0 if server_errors == 0 and not tally.problems and alive else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        type=Path,
        action="append",
        required=True,
        help="a local MLX model folder; repeat it to serve several, each request naming one",
    )
    parser.add_argument(
        "--served-name", default=None, help="the model id to send (default: the folder name)"
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("server_args", nargs="*", help="extra flags for python -m mlxfn (after --)")
    args = parser.parse_args()
    args.served_name = args.served_name or args.model[0].resolve().name
    return asyncio.run(soak(args))


if __name__ == "__main__":
    sys.exit(main())
