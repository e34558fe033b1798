"""Admission limits: prompt tokens in the queue, the KV memory budget, and deadlines."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

import pytest
from returns.result import Failure

from mlxfn.domain.errors import InvalidRequest, Overloaded, TimedOut, Unavailable
from mlxfn.domain.events import Delta, Event, Failed, Finished
from mlxfn.effects import run_io
from mlxfn.engine.thread import Engine, EngineConfig
from tests.engine.test_engine import (
    TIMEOUT_S,
    drain,
    make_plan,
    next_event,
    run_plan,
    submit,
    wait_until,
)

HELD_S = 0.5  # how long a test holds the engine thread inside a sink


def holding_sink(
    events: queue.SimpleQueue[Event], gate: threading.Event
) -> Callable[[Event], None]:
    """A sink that keeps the engine thread inside it until ``gate`` is set."""

    def sink(event: Event) -> None:
        events.put(event)
        if not gate.is_set():
            gate.wait(TIMEOUT_S)

    return sink


def test_the_kv_cost_per_token_is_measured_from_the_model(
    own_engine: Callable[[EngineConfig], Engine],
) -> None:
    engine = own_engine(EngineConfig())
    args = engine.loaded.model.args
    heads = args.num_key_value_heads or args.num_attention_heads
    head_dim = args.hidden_size // args.num_attention_heads
    float32 = 4
    assert engine.kv_bytes_per_token == args.num_hidden_layers * 2 * heads * head_dim * float32
    assert engine.memory_budget > 0


def test_a_request_that_could_never_fit_the_memory_budget_is_a_400(
    own_engine: Callable[[EngineConfig], Engine],
) -> None:
    probe = own_engine(EngineConfig())
    per_token = probe.kv_bytes_per_token
    engine = own_engine(EngineConfig(memory_budget_bytes=100 * per_token))
    fits = make_plan(engine, max_tokens=50)
    assert isinstance(run_plan(engine, fits)[-1], Finished)
    too_big = make_plan(engine, max_tokens=100)
    match run_io(engine.submit(too_big, lambda _: None)):
        case Failure(InvalidRequest(param="max_tokens", code="request_too_large")):
            pass
        case other:
            pytest.fail(f"expected a 400 on max_tokens, got {other!r}")
    assert engine.pending == 0


def test_a_request_waits_for_memory_then_runs(
    own_engine: Callable[[EngineConfig], Engine],
) -> None:
    probe = own_engine(EngineConfig())
    engine = own_engine(EngineConfig(memory_budget_bytes=100 * probe.kv_bytes_per_token))
    gate = threading.Event()
    first: queue.SimpleQueue[Event] = queue.SimpleQueue()
    second: queue.SimpleQueue[Event] = queue.SimpleQueue()
    seen: list[tuple[str, Event]] = []  # in the order the engine thread sent them

    def first_sink(event: Event) -> None:
        seen.append(("first", event))
        holding_sink(first, gate)(event)

    def second_sink(event: Event) -> None:
        seen.append(("second", event))
        second.put(event)

    submit(engine, make_plan(engine, max_tokens=60), first_sink)
    assert isinstance(next_event(first), Delta)
    # Only one of the two fits the budget at a time: the second must wait its turn.
    submit(engine, make_plan(engine, max_tokens=60), second_sink)
    gate.set()
    assert isinstance(drain(first)[-1], Finished)
    assert isinstance(drain(second)[-1], Finished)
    first_done = seen.index(next(item for item in seen if isinstance(item[1], Finished)))
    assert seen[first_done][0] == "first"
    assert all(who == "first" for who, _ in seen[:first_done])
    assert wait_until(lambda: engine.pending == 0)


def test_a_request_that_waits_past_the_queue_timeout_gets_timed_out(
    own_engine: Callable[[EngineConfig], Engine],
) -> None:
    probe = own_engine(EngineConfig())
    engine = own_engine(
        EngineConfig(memory_budget_bytes=100 * probe.kv_bytes_per_token, queue_timeout=0.2)
    )
    gate = threading.Event()
    first: queue.SimpleQueue[Event] = queue.SimpleQueue()
    submit(engine, make_plan(engine, max_tokens=60), holding_sink(first, gate))
    assert isinstance(next_event(first), Delta)
    waiting: queue.SimpleQueue[Event] = queue.SimpleQueue()
    submit(engine, make_plan(engine, max_tokens=60), waiting.put)
    threading.Timer(HELD_S, gate.set).start()
    assert drain(waiting) == [Failed(TimedOut("queue", 0.2))]
    assert isinstance(drain(first)[-1], Finished)  # the running one was not disturbed
    assert wait_until(lambda: engine.pending == 0)


def test_a_request_past_its_deadline_ends_with_a_timeout(
    own_engine: Callable[[EngineConfig], Engine],
) -> None:
    # The deadline leaves room for the short request after it on a loaded machine (2 s);
    # the first is held in its first event past the deadline, which the tiny model could
    # otherwise beat on an idle machine.
    deadline = 2.0
    engine = own_engine(EngineConfig(request_timeout=deadline))
    gate = threading.Event()
    got: queue.SimpleQueue[Event] = queue.SimpleQueue()
    submit(engine, make_plan(engine, max_tokens=400), holding_sink(got, gate))
    assert isinstance(next_event(got), Delta)
    threading.Timer(deadline + HELD_S, gate.set).start()
    assert drain(got)[-1] == Failed(TimedOut("total", deadline))
    assert wait_until(lambda: engine.pending == 0)
    assert isinstance(run_plan(engine, make_plan(engine, max_tokens=3))[-1], Finished)


def test_the_queue_is_bounded_in_prompt_tokens(
    own_engine: Callable[[EngineConfig], Engine],
) -> None:
    probe = own_engine(EngineConfig())
    prompt = len(make_plan(probe).prompt)
    engine = own_engine(EngineConfig(max_pending_tokens=prompt + 1))
    gate = threading.Event()
    first: queue.SimpleQueue[Event] = queue.SimpleQueue()
    # Alone, even a prompt over the cap is taken: otherwise it could never run.
    submit(engine, make_plan(engine, "hi " * 5, max_tokens=60), holding_sink(first, gate))
    assert isinstance(next_event(first), Delta)
    assert run_io(engine.submit(make_plan(engine), lambda _: None)) == Failure(Overloaded(1))
    gate.set()
    drain(first)
    assert wait_until(lambda: engine.pending == 0)
    assert isinstance(run_plan(engine, make_plan(engine, max_tokens=2))[-1], Finished)


def test_closing_tells_waiting_and_running_requests_the_server_is_shutting_down(
    own_engine: Callable[[EngineConfig], Engine],
) -> None:
    probe = own_engine(EngineConfig())
    engine = own_engine(EngineConfig(memory_budget_bytes=100 * probe.kv_bytes_per_token))
    gate = threading.Event()
    running: queue.SimpleQueue[Event] = queue.SimpleQueue()
    submit(engine, make_plan(engine, max_tokens=60), holding_sink(running, gate))
    assert isinstance(next_event(running), Delta)
    waiting: queue.SimpleQueue[Event] = queue.SimpleQueue()
    submit(engine, make_plan(engine, max_tokens=60), waiting.put)
    closer = threading.Thread(target=engine.close)
    closer.start()
    assert wait_until(lambda: not engine.alive)
    gate.set()
    closer.join(TIMEOUT_S)
    stopping = Failed(Unavailable("the server is shutting down"))
    assert drain(running)[-1] == stopping
    assert drain(waiting) == [stopping]
