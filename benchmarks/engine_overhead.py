"""What the engine costs over mlx-lm, in-process (no HTTP): decode tokens/s at 1 and 16 sequences
for mlx-lm's generate_step, mlx-lm's BatchGenerator, and mlxfn's Engine on the same model.

    python -m benchmarks.engine_overhead benchmarks/.models/<model folder>
"""

from __future__ import annotations

import queue
import statistics
import sys
import time
from collections.abc import Callable

# isort: off
import mlxfn.engine  # noqa: F401  first: it loads the fast BLAS, which must precede `import mlx`

# isort: on
import mlx.core as mx
import mlx_lm
from mlx_lm.generate import BatchGenerator, generate_step

from mlxfn.domain.events import Delta, Event
from mlxfn.domain.request import SamplingParams
from mlxfn.domain.values import Temperature
from mlxfn.effects import run_io
from mlxfn.engine.loader import ModelSpec
from mlxfn.engine.thread import Engine, EngineConfig, start_engine
from mlxfn.pipeline.plan import GenerationPlan

TOKENS = 64


def main(path: str) -> None:
    model, tokenizer = mlx_lm.load(path)
    prompt: list[int] = tokenizer.apply_chat_template(
        [{"role": "user", "content": "tell me a story about numbers"}], add_generation_prompt=True
    )
    engine = run_io(start_engine(ModelSpec(source=path), EngineConfig(prompt_cache_bytes=0)))
    running = engine.unwrap()

    def single_step() -> float:
        first = 0.0
        for n, _ in enumerate(generate_step(mx.array(prompt), model, max_tokens=TOKENS)):
            if n == 0:
                first = time.perf_counter()
        return (TOKENS - 1) / (time.perf_counter() - first)

    def batch(size: int) -> float:
        generator = BatchGenerator(model, completion_batch_size=32, prefill_batch_size=8)
        generator.insert([[7 + i, *prompt] for i in range(size)], max_tokens=[TOKENS] * size)
        clock = DecodeClock(size)
        while clock.done < size:
            for response in generator.next()[1]:
                clock.token(response.uid, finished=response.finish_reason is not None)
        generator.close()
        return clock.rate()

    def through_engine(size: int) -> float:
        return _engine_rate(running, prompt, size)

    cases: list[tuple[str, Callable[[], float]]] = [
        ("mlx-lm generate_step, 1 sequence", single_step),
        ("mlx-lm BatchGenerator, 1 sequence", lambda: batch(1)),
        ("mlxfn Engine, 1 sequence", lambda: through_engine(1)),
        ("mlx-lm BatchGenerator, 16 sequences", lambda: batch(16)),
        ("mlxfn Engine, 16 sequences", lambda: through_engine(16)),
    ]
    for name, case in cases:
        case()  # warm up
        runs = [case() for _ in range(5)]
        print(
            f"{name:38s} {statistics.median(runs):7.1f} tok/s  (runs: {[round(r) for r in runs]})"
        )
    running.close()


def _engine_rate(engine: Engine, prompt: list[int], size: int) -> float:
    greedy = SamplingParams(temperature=Temperature(0.0))
    sinks: list[queue.SimpleQueue[Event]] = []
    for i in range(size):
        sink: queue.SimpleQueue[Event] = queue.SimpleQueue()
        plan = GenerationPlan(prompt=(7 + i, *prompt), max_tokens=TOKENS, sampling=greedy)
        run_io(engine.submit(plan, sink.put)).unwrap()
        sinks.append(sink)
    clock = DecodeClock(size)
    while clock.done < size:
        for index, sink in enumerate(sinks):
            while not sink.empty():
                if isinstance(sink.get(), Delta):
                    clock.token(index)
                else:
                    clock.done += 1
        time.sleep(0.0005)
    return clock.rate()


class DecodeClock:
    """Decode tokens/s of a batch once all of it decodes: the clock starts when every
    sequence has its first token, so that prefill, and requests joining one after another,
    are not counted in either the engine's figure or mlx-lm's."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.started: set[int] = set()
        self.first = 0.0
        self.counted = 0
        self.done = 0

    def token(self, sequence: int, *, finished: bool = False) -> None:
        if self.first:
            self.counted += 1
        else:
            self.started.add(sequence)
            if len(self.started) == self.size:
                self.first = time.perf_counter()
        self.done += finished

    def rate(self) -> float:
        return self.counted / (time.perf_counter() - self.first)


if __name__ == "__main__":
    main(sys.argv[1])
