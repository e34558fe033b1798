"""What HTTP costs a single stream: its time to first token and its decode rate, measured by
the engine in-process, by the server's own clock (its TTFT histogram on /metrics, from the
request's arrival to the first token on the event loop) and by the client's (through HTTP and
SSE), side by side in one run. One short prompt at a time, 64 tokens each.

    python -m benchmarks.single_stream benchmarks/.models/<model folder>

The in-process figure includes no template or tokenizing (the prompt is tokenized first);
the server's includes parsing, the chat template and admission; the client's adds the
connection, the HTTP exchange and reading the SSE stream.
"""

from __future__ import annotations

# isort: off
import mlxfn.engine  # noqa: F401  first: it loads the fast BLAS, which must precede `import mlx`

# isort: on
import http.client
import json
import queue
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.servers import free_port, server_argv
from mlxfn.domain.events import Delta, Event
from mlxfn.domain.request import SamplingParams
from mlxfn.domain.values import Temperature
from mlxfn.effects import run_io
from mlxfn.engine.loader import ModelSpec
from mlxfn.engine.thread import EngineConfig, start_engine
from mlxfn.pipeline.plan import GenerationPlan

REQUESTS = 12
TOKENS = 64
ROUNDS = 3  # the first is a warm-up in each process, and is not reported
GREEDY = SamplingParams(temperature=Temperature(0.0))


def _question(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"#{i}: Question: how many words are in this one?"}]


def in_process(path: str) -> list[tuple[float, float]]:
    """Per round after the warm-up: median TTFT (ms) and median decode rate (tokens/s)."""
    engine = run_io(start_engine(ModelSpec(source=path), EngineConfig())).unwrap()
    tokenizer = engine.loaded.tokenizer
    rounds = []
    for _ in range(ROUNDS):
        firsts, rates = [], []
        for i in range(REQUESTS):
            prompt = tuple(tokenizer.apply_chat_template(_question(i), add_generation_prompt=True))
            sink: queue.SimpleQueue[Event] = queue.SimpleQueue()
            started = time.perf_counter()
            plan = GenerationPlan(prompt=prompt, max_tokens=TOKENS, sampling=GREEDY)
            run_io(engine.submit(plan, sink.put)).unwrap()
            first, later = None, 0
            while isinstance(event := sink.get(), Delta):  # up to Finished
                if first is None and event.text:
                    first = time.perf_counter()
                elif first is not None:
                    later += 1
            assert first is not None
            firsts.append((first - started) * 1000)
            rates.append(later / (time.perf_counter() - first))
        rounds.append((statistics.median(firsts), statistics.median(rates)))
    engine.close()
    return rounds[1:]


def _server_ttft(port: int) -> tuple[float, float]:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    name = "mlxfn_time_to_first_token_seconds"
    total = re.search(rf"^{name}_sum (\S+)", text, re.M)
    count = re.search(rf"^{name}_count (\S+)", text, re.M)
    assert total is not None
    assert count is not None
    return float(total.group(1)), float(count.group(1))


def _stream(port: int, model: str, i: int) -> tuple[float, float]:
    """One streamed request: its TTFT (ms) and its decode rate after the first token."""
    body = json.dumps(
        {"model": model, "messages": _question(i), "stream": True, "max_tokens": TOKENS}
        | {"temperature": 0}
    )
    connection = http.client.HTTPConnection("127.0.0.1", port)
    started = time.perf_counter()
    connection.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    reply = connection.getresponse()
    first, later = None, 0
    for line in reply:
        chunk = line.removeprefix(b"data: ").strip()
        if not chunk.startswith(b"{"):
            continue
        choices = json.loads(chunk).get("choices") or [{}]
        if choices[0].get("delta", {}).get("content"):
            if first is None:
                first = time.perf_counter()
            else:
                later += 1
    ended = time.perf_counter()
    connection.close()
    assert first is not None
    return (first - started) * 1000, later / (ended - first)


def through_http(path: str) -> list[tuple[float, float, float]]:
    """Per round after the warm-up: the client's median TTFT (ms), the server's mean TTFT
    (ms) and the client's median decode rate (tokens/s)."""
    port = free_port()
    server = subprocess.Popen(
        server_argv("mlxfn", Path(path), port, TOKENS),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            try:
                _server_ttft(port)
                break
            except (OSError, AssertionError):
                time.sleep(0.2)
        model = Path(path).name
        results = []
        for _ in range(ROUNDS):
            before, count_before = _server_ttft(port)
            streams = [_stream(port, model, i) for i in range(REQUESTS)]
            after, count_after = _server_ttft(port)
            served = (after - before) / (count_after - count_before) * 1000
            client = statistics.median(ttft for ttft, _ in streams)
            rate = statistics.median(rate for _, rate in streams)
            results.append((client, served, rate))
        return results[1:]
    finally:
        server.terminate()
        server.wait()


def main(path: str) -> None:
    engine = in_process(path)
    http_rounds = through_http(path)
    print(f"{REQUESTS} short prompts one at a time, {TOKENS} tokens each; after a warm-up round:")
    for n, ((ttft, rate), (client, served, client_rate)) in enumerate(
        zip(engine, http_rounds, strict=True), 1
    ):
        print(
            f"round {n}: TTFT engine {ttft:.1f} / server {served:.1f} / client {client:.1f} ms; "
            f"decode engine {rate:.1f} / client {client_rate:.1f} tok/s "
            f"({client_rate / rate:.2f}x)"
        )


if __name__ == "__main__":
    main(sys.argv[1])
