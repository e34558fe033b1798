"""The trained demo model (a test fixture), loaded through mlxfn's own loader and engine,
decoded greedily.

These check that the model the tool tests rely on still does what its card says
(tests/demo/model/README.md has the measured numbers). A goal its weights do not reach yet
is a strict xfail, so a retrained model that reaches it must turn it on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import mlxfn
from mlxfn import Engine, EngineConfig, ModelSpec, start_engine
from mlxfn.effects import run_io
from mlxfn.engine.loader import LoadedModel
from tests.demo import DEMO_MODEL_DIR, DEMO_MODEL_NAME
from tests.demo.data import CAPITALS, TOOLS, capital_answer, eval_cases
from tests.demo.evaluate import EVAL_SEED, greedy_reply, load_demo


@pytest.fixture(scope="module")
def demo_engine() -> Iterator[Engine]:
    spec = ModelSpec(source=str(DEMO_MODEL_DIR), served_name=DEMO_MODEL_NAME)
    engine = run_io(start_engine(spec, EngineConfig())).unwrap()
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def demo_model() -> LoadedModel:
    return load_demo(DEMO_MODEL_DIR)


def ask(engine: Engine, question: str) -> str:
    messages = [{"role": "user", "content": question}]
    completion = mlxfn.chat(engine, messages, temperature=0, max_tokens=96).unwrap()
    assert completion.finish_reason == "stop"
    return completion.content


def test_the_shipped_model_fits_in_the_package() -> None:
    size = sum(f.stat().st_size for f in DEMO_MODEL_DIR.iterdir() if f.is_file())
    assert size <= 25 * 1024 * 1024


_ADDITION_NOT_LEARNED = pytest.mark.xfail(
    strict=True,
    reason="with the phrasings mixed, 85% of held-out sums are right, short of 90% (model card)",
)


def test_it_greets_as_the_demo_model(demo_engine: Engine) -> None:
    assert DEMO_MODEL_NAME in ask(demo_engine, "Hello!")


def test_it_adds(demo_engine: Engine) -> None:
    assert demo_engine.loaded.name == DEMO_MODEL_NAME
    assert "42" in ask(demo_engine, "What is 17 + 25?")


def test_it_knows_most_capitals_in_its_table(demo_engine: Engine) -> None:
    # every country it was taught; the card reports the rate on mixed phrasings
    right = [
        ask(demo_engine, f"What is the capital of {country}?") == capital_answer(country)
        for country in CAPITALS
    ]
    assert sum(right) / len(right) >= 0.4  # chance is 1 in 33; the card has the measured rate


@_ADDITION_NOT_LEARNED
def test_it_adds_held_out_pairs(demo_engine: Engine) -> None:
    # pairs never trained on (the first of the evaluation set the model card reports on)
    cases = [s for task, s in eval_cases(EVAL_SEED, 20) if task == "addition"]
    right = [
        ask(demo_engine, s["messages"][0]["content"]) == s["messages"][1]["content"] for s in cases
    ]
    assert sum(right) / len(right) >= 0.9


def test_it_calls_an_offered_tool(demo_model: LoadedModel) -> None:
    messages = [{"role": "user", "content": "What's the weather in Tokyo?"}]
    tools = [TOOLS["get_weather"], TOOLS["add"]]
    reply = greedy_reply(demo_model, messages, tools)
    tokenizer: Any = demo_model.tokenizer
    assert tokenizer.has_tool_calling
    start, end = tokenizer.tool_call_start, tokenizer.tool_call_end
    body = reply.split(start, 1)[1].split(end, 1)[0]
    call = tokenizer.tool_parser(body, tools)
    # the right tool with the right argument names; the city is copied right only ~40% of the time
    assert call["name"] == "get_weather"
    assert set(call["arguments"]) == {"city"}


def test_it_answers_from_a_tool_result(demo_model: LoadedModel) -> None:
    call = {"name": "get_weather", "arguments": json.dumps({"city": "Oslo"})}
    result = {"city": "Oslo", "temperature": 3, "condition": "snowy"}
    messages = [
        {"role": "user", "content": "What's the weather in Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c", "type": "function", "function": call}],
        },
        {"role": "tool", "tool_call_id": "c", "content": json.dumps(result)},
    ]
    reply = greedy_reply(demo_model, messages, [TOOLS["get_weather"]])
    assert "snowy" in reply
    assert "3" in reply


def test_it_answers_without_a_tool_it_does_not_need(demo_model: LoadedModel) -> None:
    messages = [{"role": "user", "content": "What is the capital of Japan?"}]
    reply = greedy_reply(demo_model, messages, [TOOLS["get_weather"]])
    assert "<tool_call>" not in reply
    assert reply.startswith("The capital of")
