"""The notebook API on the real tiny model: one call from OpenAI-shaped input to a Result."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from returns.pipeline import flow
from returns.pointfree import bind
from returns.result import Failure, Result, Success

import mlxfn
from mlxfn import (
    ApiError,
    ChatRequest,
    Completion,
    Engine,
    Event,
    GenerationPlan,
    assemble_completion,
    generate,
    parse_chat_request,
    plan_chat,
)
from mlxfn.domain.errors import ContextLengthExceeded, InvalidRequest, ModelNotFound
from mlxfn.domain.events import ResponseMeta
from mlxfn.wire.codec import encode_json

HI = [{"role": "user", "content": "hi"}]


def test_chat_returns_a_completion(engine: Engine) -> None:
    match mlxfn.chat(engine, HI, temperature=0, max_tokens=5):
        case Success(Completion() as completion):
            assert completion.finish_reason == "length"
            assert completion.usage.completion_tokens == 5
            assert completion.usage.prompt_tokens > 0
            assert completion.content
            assert completion.meta.id.startswith("chatcmpl-")
            assert completion.meta.created > 0
        case other:
            pytest.fail(f"expected Success(Completion), got {other!r}")


def test_chat_defaults_to_the_served_model(engine: Engine) -> None:
    completion = mlxfn.chat(engine, HI, temperature=0, max_tokens=2).unwrap()
    assert completion.meta.model == "tiny" == engine.loaded.name
    named = mlxfn.chat(engine, HI, model="tiny", temperature=0, max_tokens=2).unwrap()
    assert named.content == completion.content


def test_chat_at_temperature_zero_is_deterministic(engine: Engine) -> None:
    first = mlxfn.chat(engine, HI, temperature=0, max_tokens=12).unwrap()
    second = mlxfn.chat(engine, HI, temperature=0, max_tokens=12).unwrap()
    assert first.content == second.content
    assert first.meta.id != second.meta.id


def test_chat_with_a_seed_is_reproducible(engine: Engine) -> None:
    first = mlxfn.chat(engine, HI, temperature=1.0, seed=11, max_tokens=12).unwrap()
    second = mlxfn.chat(engine, HI, temperature=1.0, seed=11, max_tokens=12).unwrap()
    assert first.content == second.content


def test_chat_honours_stop(engine: Engine) -> None:
    content = mlxfn.chat(engine, HI, temperature=0, max_tokens=20).unwrap().content
    stop = content[4:7]
    stopped = mlxfn.chat(engine, HI, temperature=0, max_tokens=20, stop=stop).unwrap()
    assert stopped.finish_reason == "stop"
    assert stopped.content == content[: content.find(stop)]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"temperature": 3}, "temperature"),
        ({"temperature": "0"}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"seed": 1.5}, "seed"),
        ({"n": 2}, "n"),
    ],
)
def test_invalid_fields_are_invalid_requests(
    engine: Engine, fields: dict[str, Any], param: str
) -> None:
    match mlxfn.chat(engine, HI, **fields):
        case Failure(InvalidRequest(param=got)):
            assert got == param
        case other:
            pytest.fail(f"expected InvalidRequest for {param}, got {other!r}")


def test_tools_work_on_a_template_without_a_tool_format(engine: Engine) -> None:
    """The tiny model's template shows no tool format: the tools go into the prompt in the
    generic format, and a forced choice gets its call (once refused as a 400 on tools)."""
    closed = {"type": "object", "properties": {}, "additionalProperties": False}
    tools = [{"type": "function", "function": {"name": "f", "parameters": closed}}]
    reply = mlxfn.chat(
        engine, HI, tools=tools, tool_choice="required", parallel_tool_calls=False, max_tokens=40
    ).unwrap()
    assert reply.finish_reason == "tool_calls"
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("f", "{}")]


def test_invalid_messages_are_invalid_requests(engine: Engine) -> None:
    match mlxfn.chat(engine, [{"role": "wizard", "content": "hi"}]):
        case Failure(InvalidRequest(param=param)):
            assert param is not None
            assert param.startswith("messages")
        case other:
            pytest.fail(f"expected InvalidRequest, got {other!r}")
    assert isinstance(mlxfn.chat(engine, []).failure(), InvalidRequest)


def test_another_model_name_is_not_found(engine: Engine) -> None:
    assert mlxfn.chat(engine, HI, model="gpt-4o", max_tokens=2) == Failure(ModelNotFound("gpt-4o"))


def test_too_many_tokens_for_the_context(engine: Engine) -> None:
    match mlxfn.chat(engine, HI, max_tokens=10_000):
        case Failure(ContextLengthExceeded(max_tokens=wanted, limit=limit)):
            assert (wanted, limit) == (10_000, 512)
        case other:
            pytest.fail(f"expected ContextLengthExceeded, got {other!r}")


def test_composing_the_public_pipeline_with_flow(engine: Engine) -> None:
    """What a notebook user writes with the public pieces, step by step."""
    loaded = engine.loaded
    body = encode_json({"model": loaded.name, "messages": HI, "temperature": 0, "max_tokens": 8})
    meta = ResponseMeta(id=f"chatcmpl-{uuid.uuid4().hex}", created=int(time.time()), model="tiny")

    def plan(request: ChatRequest) -> Result[GenerationPlan, ApiError]:
        return plan_chat(request, loaded.tokenizer, engine.limits, loaded.name)

    def run(plan: GenerationPlan) -> Result[Iterator[Event], ApiError]:
        return generate(engine, plan)

    def assemble(events: Iterator[Event]) -> Result[Completion, ApiError]:
        return assemble_completion(meta, events)

    result = flow(body, parse_chat_request, bind(plan), bind(run), bind(assemble))
    composed = result.unwrap()
    direct = mlxfn.chat(engine, HI, temperature=0, max_tokens=8).unwrap()
    assert composed.content == direct.content
    assert composed.usage == direct.usage
    assert composed.finish_reason == direct.finish_reason == "length"
    assert composed.meta == meta


def test_generate_yields_events_up_to_the_final_one(engine: Engine) -> None:
    request = parse_chat_request(encode_json({"model": "tiny", "messages": HI})).unwrap()
    plan = plan_chat(request, engine.loaded.tokenizer, engine.limits, "tiny").unwrap()
    plan = GenerationPlan(prompt=plan.prompt, max_tokens=4, sampling=plan.sampling)
    events = list(generate(engine, plan).unwrap())
    assert isinstance(events[-1], mlxfn.Finished)
    assert all(isinstance(e, mlxfn.Delta) for e in events[:-1])
    assert events[-1].usage.completion_tokens == 4
