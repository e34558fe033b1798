"""Memory beyond what MLX holds, in-process: RSS after loading, and after two bursts of 16
concurrent 1k-token prompts once the engine is idle again, next to MLX's active and cache
memory (weights plus the prefix cache).

    python -m benchmarks.idle_memory benchmarks/.models/<model folder>
"""

from __future__ import annotations

import queue
import random
import sys
import time

# isort: off
import mlxfn.engine  # noqa: F401  first: it loads the fast BLAS, which must precede `import mlx`

# isort: on
import mlx.core as mx

from mlxfn.domain.events import Event, Failed, Finished
from mlxfn.domain.request import SamplingParams
from mlxfn.domain.values import Temperature
from mlxfn.effects import run_io
from mlxfn.engine.loader import ModelSpec
from mlxfn.engine.thread import Engine, EngineConfig, start_engine
from mlxfn.pipeline.plan import GenerationPlan

GREEDY = SamplingParams(temperature=Temperature(0.0))
MB = 2**20


def rss_mb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    return -1


def burst(engine: Engine, count: int, prompt_tokens: int, max_tokens: int) -> None:
    sinks: list[queue.SimpleQueue[Event]] = []
    for _ in range(count):
        sink: queue.SimpleQueue[Event] = queue.SimpleQueue()
        prompt = tuple(random.randrange(10, 16000) for _ in range(prompt_tokens))
        plan = GenerationPlan(prompt=prompt, max_tokens=max_tokens, sampling=GREEDY)
        run_io(engine.submit(plan, sink.put)).unwrap()
        sinks.append(sink)
    for sink in sinks:
        while not isinstance(sink.get(), Finished | Failed):
            pass


def mlx_mb() -> str:
    return f"MLX active {mx.get_active_memory() // MB} MB, cache {mx.get_cache_memory() // MB} MB"


def main(path: str) -> None:
    engine = run_io(start_engine(ModelSpec(source=path), EngineConfig())).unwrap()
    time.sleep(1)
    print(f"after load: RSS {rss_mb()} MB, {mlx_mb()}")
    for repetition in range(2):
        burst(engine, 16, 1000, 32)
        time.sleep(2)  # the engine settles when it goes idle
        print(f"after burst {repetition}: RSS {rss_mb()} MB, {mlx_mb()}")
    engine.close()


if __name__ == "__main__":
    main(sys.argv[1])
