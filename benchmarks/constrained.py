"""The per-token cost of constrained decoding, in-process: decode tokens/s of the same model in
the same run with and without a response_format grammar, at 1 and 8 concurrent sequences.

    python -m benchmarks.constrained [model folder]      (default: a fresh random tiny model)

A random-weight model, since a trained one ends its free answers early and the free side
would then be timed on few tokens.
The grammar is a JSON object with one unbounded string, so that every sequence runs to
max_tokens and both sides generate the same number of tokens; sampling at temperature 1.
"""

from __future__ import annotations

import queue
import statistics
import sys
import tempfile
import time
from pathlib import Path

# isort: off
import mlxfn.engine  # noqa: F401  first: it loads the fast BLAS, which must precede `import mlx`

# isort: on
from mlxfn.domain.events import Event, Finished
from mlxfn.domain.request import SamplingParams
from mlxfn.domain.values import Seed, Temperature
from mlxfn.effects import run_io
from mlxfn.engine.loader import ModelSpec
from mlxfn.engine.thread import Engine, EngineConfig, start_engine
from mlxfn.pipeline.grammar import json_schema_grammar
from mlxfn.pipeline.plan import GenerationPlan
from mlxfn.tiny_model import build_tiny_model

TOKENS = 128
REPS = 3
SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}


def _run(engine: Engine, prompt: tuple[int, ...], grammar: str | None, streams: int) -> float:
    """Generated tokens per second over ``streams`` concurrent sequences."""
    queues: list[queue.SimpleQueue[Event]] = []
    start = time.perf_counter()
    for index in range(streams):
        events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        sampling = SamplingParams(temperature=Temperature(1.0), seed=Seed(index))
        plan = GenerationPlan(prompt=prompt, max_tokens=TOKENS, sampling=sampling, grammar=grammar)
        run_io(engine.submit(plan, events.put)).unwrap()
        queues.append(events)
    generated = 0
    for events in queues:
        while not isinstance(event := events.get(timeout=600), Finished):
            pass
        generated += event.usage.completion_tokens
    return generated / (time.perf_counter() - start)


def main(path: str) -> None:
    engine = run_io(start_engine(ModelSpec(source=path), EngineConfig(prompt_cache_bytes=0)))
    running = engine.unwrap()
    prompt = tuple(running.loaded.tokenizer.encode("write a long story about numbers"))
    grammar = json_schema_grammar(SCHEMA)
    _run(running, prompt, grammar, 1)  # warm-up, and llguidance's tokenizer is built
    print(f"model: {path}; {TOKENS} tokens per sequence, median of {REPS}")
    print("| streams | free tok/s | json_schema tok/s | ratio | cost per token |")
    print("| --- | --- | --- | --- | --- |")
    for streams in (1, 8):
        free = statistics.median(_run(running, prompt, None, streams) for _ in range(REPS))
        held = statistics.median(_run(running, prompt, grammar, streams) for _ in range(REPS))
        # per sequence-token: what the mask adds to each generated token's share of the time
        cost_us = (1 / held - 1 / free) * 1e6
        print(f"| {streams} | {free:.0f} | {held:.0f} | {held / free:.2f} | {cost_us:.0f} µs |")
    running.close()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory() as folder:
            main(str(build_tiny_model(Path(folder) / "tiny")))
