"""Where the burst scenario's largest gap comes from, in-process: 8 greedy streams run, a
2k-token prompt joins, and the largest inter-token gaps are printed with when they happened.

    python -m benchmarks.burst_gaps benchmarks/.models/<model folder> [prefill step while busy]
"""

from __future__ import annotations

import itertools
import queue
import random
import statistics
import sys
import time

# isort: off
import mlxfn.engine  # noqa: F401  first: it loads the fast BLAS, which must precede `import mlx`

# isort: on
from mlxfn.domain.events import Delta, Event
from mlxfn.domain.request import SamplingParams
from mlxfn.domain.values import Temperature
from mlxfn.effects import run_io
from mlxfn.engine.loader import ModelSpec
from mlxfn.engine.thread import DEFAULT_PREFILL_STEP_BUSY, Engine, EngineConfig, start_engine
from mlxfn.pipeline.plan import GenerationPlan

GREEDY = SamplingParams(temperature=Temperature(0.0))


def submit(engine: Engine, length: int, max_tokens: int) -> queue.SimpleQueue[Event]:
    sink: queue.SimpleQueue[Event] = queue.SimpleQueue()
    prompt = tuple(random.randrange(10, 16000) for _ in range(length))
    plan = GenerationPlan(prompt=prompt, max_tokens=max_tokens, sampling=GREEDY)
    run_io(engine.submit(plan, sink.put)).unwrap()
    return sink


def main(path: str, prefill_step_busy: int = DEFAULT_PREFILL_STEP_BUSY) -> None:
    config = EngineConfig(prompt_cache_bytes=0, prefill_step_busy=prefill_step_busy)
    engine = run_io(start_engine(ModelSpec(source=path), config)).unwrap()
    for repetition in range(2):
        streams = [submit(engine, 20, 128) for _ in range(8)]
        arrivals: list[list[float]] = [[] for _ in streams]
        start = time.perf_counter()
        long_sink: queue.SimpleQueue[Event] | None = None
        joined_at = first_long = 0.0
        done = 0
        while done < len(streams):
            for arrived, sink in zip(arrivals, streams, strict=True):
                while not sink.empty():
                    if isinstance(sink.get(), Delta):
                        arrived.append(time.perf_counter() - start)
                    else:
                        done += 1
            if long_sink is None and min(map(len, arrivals)) >= 32:
                joined_at = time.perf_counter() - start
                long_sink = submit(engine, 2000, 8)
            if long_sink is not None and not first_long and not long_sink.empty():
                first_long = time.perf_counter() - start
            time.sleep(0.0005)
        gaps = [(b - a, a) for times in arrivals for a, b in itertools.pairwise(times)]
        median = statistics.median(gap for gap, _ in gaps)
        top = [(round(gap * 1000), round(at, 2)) for gap, at in sorted(gaps, reverse=True)[:3]]
        print(
            f"repetition {repetition}: median gap {median * 1000:.1f} ms; the 2k prompt arrived "
            f"at {joined_at:.2f} s and gave its first token at {first_long:.2f} s; largest gaps "
            f"(ms, at s): {top}"
        )
    engine.close()


if __name__ == "__main__":
    main(sys.argv[1], *(int(arg) for arg in sys.argv[2:3]))
