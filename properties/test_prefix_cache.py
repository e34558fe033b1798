"""The prefix cache is invisible: greedy output with it equals output without it, even when
requests sharing prefixes run concurrently in one batch."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlxfn.domain.events import Delta, Event, Finished
from mlxfn.domain.messages import AssistantMessage, Conversation, SystemMessage, UserMessage
from mlxfn.domain.request import SamplingParams
from mlxfn.domain.values import Temperature
from mlxfn.effects import run_io
from mlxfn.engine.loader import ModelSpec
from mlxfn.engine.thread import Engine, EngineConfig, start_engine
from mlxfn.pipeline.plan import GenerationPlan
from mlxfn.pipeline.prompt import build_prompt
from mlxfn.tiny_model import build_tiny_model

SYSTEMS = ("You are a helpful assistant who answers about numbers and cities. " * 3, "Be brief.")
WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "what",
    "is",
    "two",
    "plus",
    "four",
    "hello",
    "world",
]


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Engine]]:
    folder = build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")
    spec = ModelSpec(source=str(Path(folder)))
    cached = run_io(start_engine(spec, EngineConfig(prompt_cache_bytes=64 << 20))).unwrap()
    uncached = run_io(start_engine(spec, EngineConfig(prompt_cache_bytes=0))).unwrap()
    yield cached, uncached
    cached.close()
    uncached.close()


sentences = st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map(" ".join)


@st.composite
def conversations(draw: st.DrawFn) -> Conversation:
    """A system prompt from a small set, then turns: later ones extend earlier prefixes."""
    messages: list[SystemMessage | UserMessage | AssistantMessage] = [
        SystemMessage(draw(st.sampled_from(SYSTEMS)))
    ]
    for _ in range(draw(st.integers(0, 2))):
        messages += [UserMessage(draw(sentences)), AssistantMessage(draw(sentences))]
    messages.append(UserMessage(draw(sentences)))
    return Conversation(tuple(messages))


def plan_for(engine: Engine, conversation: Conversation, max_tokens: int) -> GenerationPlan:
    prompt = build_prompt(conversation, engine.loaded.tokenizer).unwrap()
    greedy = SamplingParams(temperature=Temperature(0.0))
    return GenerationPlan(prompt=prompt.token_ids, max_tokens=max_tokens, sampling=greedy)


def text_and_reason(events: queue.SimpleQueue[Event]) -> tuple[str, str]:
    parts: list[str] = []
    while True:
        event = events.get(timeout=60)
        if isinstance(event, Delta):
            parts.append(event.text)
        else:
            assert isinstance(event, Finished), event
            return "".join(parts), event.reason


def run_together(engine: Engine, plans: list[GenerationPlan]) -> list[tuple[str, str]]:
    sinks: list[queue.SimpleQueue[Event]] = []
    for plan in plans:
        sink: queue.SimpleQueue[Event] = queue.SimpleQueue()
        run_io(engine.submit(plan, sink.put)).unwrap()
        sinks.append(sink)
    return [text_and_reason(sink) for sink in sinks]


@settings(max_examples=15, deadline=None)
@given(
    batch=st.lists(
        st.tuples(conversations(), st.integers(min_value=1, max_value=16)), min_size=1, max_size=4
    )
)
def test_greedy_output_is_the_same_with_and_without_the_prefix_cache(
    engines: tuple[Engine, Engine], batch: list[tuple[Conversation, int]]
) -> None:
    cached, uncached = engines
    plans = [plan_for(cached, conversation, max_tokens) for conversation, max_tokens in batch]
    expected = [run_together(uncached, [plan])[0] for plan in plans]
    assert run_together(cached, plans) == expected
