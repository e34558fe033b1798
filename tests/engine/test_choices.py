"""n choices of one plan: one prefill, forked sequences with their own samplers and finishes."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable

from mlxfn.domain.events import Delta, Event, Failed, Finished
from mlxfn.domain.request import SamplingParams
from mlxfn.domain.values import Seed, Temperature
from mlxfn.effects import run_io
from mlxfn.engine.thread import Engine, EngineConfig
from mlxfn.pipeline.plan import GenerationPlan

PROMPT = tuple(range(5, 45))  # 40 tokens


def sampled(seed: int) -> SamplingParams:
    return SamplingParams(temperature=Temperature(1.0), seed=Seed(seed))


def run(engine: Engine, plan: GenerationPlan) -> list[Event]:
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    run_io(engine.submit(plan, events.put)).unwrap()
    got: list[Event] = []
    finished = 0
    while finished < plan.n:
        event = events.get(timeout=60)
        assert not isinstance(event, Failed), event
        got.append(event)
        finished += isinstance(event, Finished)
    return got


def texts(events: list[Event], n: int) -> list[str]:
    return [
        "".join(e.text for e in events if isinstance(e, Delta) and e.index == i) for i in range(n)
    ]


def wait_for_idle(engine: Engine) -> None:
    deadline = time.monotonic() + 10
    while engine.pending or engine.stats.running:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.05)  # the snapshot after the last step


def test_each_choice_finishes_once_with_its_own_usage(engine: Engine) -> None:
    events = run(engine, GenerationPlan(prompt=PROMPT, max_tokens=6, sampling=sampled(1), n=3))
    finished = [e for e in events if isinstance(e, Finished)]
    assert sorted(e.index for e in finished) == [0, 1, 2]
    assert all(e.usage.prompt_tokens == len(PROMPT) for e in finished)
    assert all(1 <= e.usage.completion_tokens <= 6 for e in finished)
    assert engine.pending == 0


def test_seeded_choices_differ_and_choice_zero_is_the_seeds_single_answer(engine: Engine) -> None:
    plan = GenerationPlan(prompt=PROMPT, max_tokens=8, sampling=sampled(42), n=3)
    choices = texts(run(engine, plan), 3)
    assert len(set(choices)) == 3  # a random-weight model samples near-uniformly
    assert texts(run(engine, plan), 3) == choices
    single = GenerationPlan(prompt=PROMPT, max_tokens=8, sampling=sampled(42))
    assert texts(run(engine, single), 1) == choices[:1]


def test_greedy_choices_are_identical(engine: Engine) -> None:
    greedy = SamplingParams(temperature=Temperature(0.0))
    plan = GenerationPlan(prompt=PROMPT, max_tokens=8, sampling=greedy, n=4)
    choices = texts(run(engine, plan), 4)
    assert len(set(choices)) == 1


def test_the_prompt_is_prefilled_once(own_engine: Callable[[EngineConfig], Engine]) -> None:
    engine = own_engine(EngineConfig(prompt_cache_bytes=0))  # no prefix cache to hide a refill
    before = engine.stats.prefill_tokens
    run(engine, GenerationPlan(prompt=PROMPT, max_tokens=4, sampling=sampled(3), n=4))
    wait_for_idle(engine)
    # the prompt once, then each further choice recomputes only the prompt's last token
    assert engine.stats.prefill_tokens - before == len(PROMPT) + 3


def test_a_cancelled_request_frees_all_its_choices(engine: Engine) -> None:
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    plan = GenerationPlan(prompt=PROMPT, max_tokens=400, sampling=sampled(5), n=4)
    job = run_io(engine.submit(plan, events.put)).unwrap()
    while not isinstance(events.get(timeout=60), Delta):
        pass
    job.cancel()
    wait_for_idle(engine)
    assert engine.pending == 0
    assert engine.stats.running == 0
