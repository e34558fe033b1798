"""Where a single stream's time to first token goes: the engine in-process, the server's own
measurement (its TTFT histogram on /metrics, from the request's arrival to the first token
on the event loop), and the client's (through HTTP and SSE). One short prompt at a time.

    python -m benchmarks.ttft_split benchmarks/.models/<model folder>

The in-process figure includes no template or tokenizing (the prompt is tokenized first);
the server's includes parsing, the chat template and admission; the client's adds the
connection, the HTTP exchange and reading the SSE stream.
"""

from __future__ import annotations

# isort: off
import mlxfn  # noqa: F401  first: it loads the fast BLAS, which must precede `import mlx`

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

REQUESTS = 20
ROUNDS = 3  # the first is a warm-up in each process, and is not reported
GREEDY = SamplingParams(temperature=Temperature(0.0))


def _question(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"#{i}: Question: how many words are in this one?"}]


def in_process(path: str) -> list[float]:
    engine = run_io(start_engine(ModelSpec(source=path), EngineConfig())).unwrap()
    tokenizer = engine.loaded.tokenizer
    medians = []
    for _ in range(ROUNDS):
        times = []
        for i in range(REQUESTS):
            prompt = tuple(tokenizer.apply_chat_template(_question(i), add_generation_prompt=True))
            sink: queue.SimpleQueue[Event] = queue.SimpleQueue()
            started = time.perf_counter()
            plan = GenerationPlan(prompt=prompt, max_tokens=2, sampling=GREEDY)
            run_io(engine.submit(plan, sink.put)).unwrap()
            first = None
            while isinstance(event := sink.get(), Delta):  # up to Finished
                if first is None and event.text:
                    first = (time.perf_counter() - started) * 1000
            assert first is not None
            times.append(first)
        medians.append(statistics.median(times))
    engine.close()
    return medians[1:]


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


def _first_token_ms(port: int, model: str, i: int) -> float:
    body = json.dumps(
        {"model": model, "messages": _question(i), "stream": True, "max_tokens": 2}
        | {"temperature": 0}
    )
    connection = http.client.HTTPConnection("127.0.0.1", port)
    started = time.perf_counter()
    connection.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    reply = connection.getresponse()
    first = None
    for line in reply:
        chunk = line.removeprefix(b"data: ").strip()
        if first is None and chunk.startswith(b"{"):
            choices = json.loads(chunk).get("choices") or [{}]
            if choices[0].get("delta", {}).get("content"):
                first = (time.perf_counter() - started) * 1000
    connection.close()
    assert first is not None
    return first


def through_http(path: str) -> list[tuple[float, float]]:
    port = free_port()
    server = subprocess.Popen(
        server_argv("mlxfn", Path(path), port, 64),
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
            client = [_first_token_ms(port, model, i) for i in range(REQUESTS)]
            after, count_after = _server_ttft(port)
            served = (after - before) / (count_after - count_before) * 1000
            results.append((statistics.median(client), served))
        return results[1:]
    finally:
        server.terminate()
        server.wait()


def main(path: str) -> None:
    engine = in_process(path)
    http_rounds = through_http(path)
    print(f"{REQUESTS} short prompts one at a time, rounds after a warm-up round:")
    for round_, (ms, (client, served)) in enumerate(zip(engine, http_rounds, strict=True), 1):
        print(
            f"round {round_}: engine in-process {ms:.1f} ms (median); server's own "
            f"{served:.1f} ms (mean); client {client:.1f} ms (median)"
        )


if __name__ == "__main__":
    main(sys.argv[1])
