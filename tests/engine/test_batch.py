"""The batch and its prefix cache, through a real engine: reuse is reported and invisible."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlxfn.domain.events import Event, Finished
from mlxfn.domain.messages import AssistantMessage, Conversation, SystemMessage, UserMessage
from mlxfn.domain.request import SamplingParams
from mlxfn.domain.values import Temperature
from mlxfn.effects import run_io
from mlxfn.engine.loader import ModelSpec
from mlxfn.engine.thread import Engine, EngineConfig, start_engine
from mlxfn.pipeline.plan import GenerationPlan
from mlxfn.pipeline.prompt import build_prompt
from tests.engine.generated import collect_text

SYSTEM = "You are a helpful assistant. Answer questions about numbers and cities. " * 4
GREEDY = SamplingParams(temperature=Temperature(0.0))


@pytest.fixture(scope="module")
def engines(tiny_model_dir: Path) -> Iterator[tuple[Engine, Engine]]:
    spec = ModelSpec(source=str(tiny_model_dir))
    cached = run_io(start_engine(spec, EngineConfig(prompt_cache_bytes=64 << 20))).unwrap()
    uncached = run_io(start_engine(spec, EngineConfig(prompt_cache_bytes=0))).unwrap()
    yield cached, uncached
    cached.close()
    uncached.close()


def run(engine: Engine, conversation: Conversation, max_tokens: int = 12) -> tuple[str, Finished]:
    prompt = build_prompt(conversation, engine.loaded.tokenizer).unwrap().token_ids
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    plan = GenerationPlan(prompt=prompt, max_tokens=max_tokens, sampling=GREEDY)
    run_io(engine.submit(plan, events.put)).unwrap()
    return collect_text(events, timeout=30)


def test_a_follow_up_turn_reuses_the_conversation_so_far(
    engines: tuple[Engine, Engine],
) -> None:
    cached, uncached = engines
    first = Conversation((SystemMessage(SYSTEM), UserMessage("what is two plus two")))
    reply, finished = run(cached, first)
    assert finished.usage.cached_tokens == 0  # nothing to reuse yet
    follow_up = Conversation(
        (*first.messages, AssistantMessage(reply), UserMessage("and four plus four"))
    )
    text, again = run(cached, follow_up)
    # At least the whole first prompt is reused (the template's rendering of the reply may
    # differ from the generated tokens at its end, so the match can stop inside the reply).
    assert finished.usage.prompt_tokens <= again.usage.cached_tokens < again.usage.prompt_tokens
    expected_text, expected = run(uncached, follow_up)
    assert (text, again.reason) == (expected_text, expected.reason)


def test_the_same_prompt_twice_reuses_all_but_its_last_token(
    engines: tuple[Engine, Engine],
) -> None:
    cached, uncached = engines
    conversation = Conversation((SystemMessage("Be brief."), UserMessage("hello world")))
    first_text, _ = run(cached, conversation)
    second_text, second = run(cached, conversation)
    assert second.usage.cached_tokens == second.usage.prompt_tokens - 1
    assert first_text == second_text == run(uncached, conversation)[0]


def test_with_the_cache_off_nothing_is_reused(engines: tuple[Engine, Engine]) -> None:
    _, uncached = engines
    conversation = Conversation((UserMessage("hello world"),))
    run(uncached, conversation)
    assert run(uncached, conversation)[1].usage.cached_tokens == 0
