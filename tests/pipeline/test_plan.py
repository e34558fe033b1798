"""build_plan: the prompt and the completion must fit the context together."""

from __future__ import annotations

import attrs
import pytest
from returns.result import Failure

from mlxfn.domain.errors import ContextLengthExceeded, InvalidRequest
from mlxfn.domain.messages import Conversation, UserMessage
from mlxfn.domain.request import ChatRequest, SamplingParams
from mlxfn.domain.values import MaxTokens, ModelName, Seed, Stop, Temperature
from mlxfn.pipeline.plan import GenerationPlan, Limits, build_plan, check_request_limits
from mlxfn.pipeline.prompt import Prompt

REQUEST = ChatRequest(model=ModelName("m"), conversation=Conversation((UserMessage("hi"),)))
LIMITS = Limits(context_length=100, default_max_tokens=16)


def prompt_of(count: int) -> Prompt:
    return Prompt(tuple(range(count)))


def with_max_tokens(value: int) -> ChatRequest:
    return attrs.evolve(REQUEST, max_tokens=MaxTokens(value))


def test_plan_carries_prompt_sampling_and_stop() -> None:
    sampling = SamplingParams(temperature=Temperature(0.0), seed=Seed(3))
    request = attrs.evolve(REQUEST, sampling=sampling, stop=Stop(("\n", "END")))
    assert build_plan(request, prompt_of(3), LIMITS).unwrap() == GenerationPlan(
        prompt=(0, 1, 2), max_tokens=16, sampling=sampling, stop=("\n", "END")
    )


def test_no_stop_is_an_empty_tuple() -> None:
    assert build_plan(REQUEST, prompt_of(3), LIMITS).unwrap().stop == ()


@pytest.mark.parametrize("max_tokens", [1, 50, 90])
def test_explicit_max_tokens_that_fits_is_kept(max_tokens: int) -> None:
    plan = build_plan(with_max_tokens(max_tokens), prompt_of(10), LIMITS).unwrap()
    assert plan.max_tokens == max_tokens


def test_explicit_max_tokens_may_exceed_the_default() -> None:
    assert build_plan(with_max_tokens(80), prompt_of(10), LIMITS).unwrap().max_tokens == 80


def test_explicit_max_tokens_over_the_room_is_context_length_exceeded() -> None:
    assert build_plan(with_max_tokens(91), prompt_of(10), LIMITS) == Failure(
        ContextLengthExceeded(prompt_tokens=10, max_tokens=91, limit=100)
    )


@pytest.mark.parametrize(
    ("count", "max_tokens"),
    [(10, 16), (84, 16), (85, 15), (99, 1)],
)
def test_implicit_max_tokens_is_the_default_capped_by_the_room(count: int, max_tokens: int) -> None:
    assert build_plan(REQUEST, prompt_of(count), LIMITS).unwrap().max_tokens == max_tokens


@pytest.mark.parametrize("count", [100, 101, 500])
def test_prompt_filling_the_context_is_context_length_exceeded(count: int) -> None:
    assert build_plan(REQUEST, prompt_of(count), LIMITS) == Failure(
        ContextLengthExceeded(prompt_tokens=count, max_tokens=1, limit=100)
    )


def test_prompt_filling_the_context_with_explicit_max_tokens() -> None:
    assert build_plan(with_max_tokens(1), prompt_of(100), LIMITS) == Failure(
        ContextLengthExceeded(prompt_tokens=100, max_tokens=1, limit=100)
    )


def test_empty_prompt_is_invalid_request() -> None:
    match build_plan(REQUEST, Prompt(()), LIMITS):
        case Failure(InvalidRequest(param="messages")):
            pass
        case other:
            pytest.fail(f"expected InvalidRequest on messages, got {other!r}")


# -- the server's own caps ----------------------------------------------------------------------

CAPPED = attrs.evolve(LIMITS, max_completion_tokens=32, max_prompt_tokens=40, max_messages=3)


def test_a_completion_over_the_cap_is_refused_naming_max_tokens() -> None:
    assert check_request_limits(with_max_tokens(32), CAPPED).unwrap() is None
    match check_request_limits(with_max_tokens(33), CAPPED):
        case Failure(InvalidRequest(param="max_tokens", message=message)):
            assert "at most 32" in message
        case other:
            pytest.fail(f"unexpected {other}")


def test_too_many_messages_are_refused_before_any_template_runs() -> None:
    three = Conversation((UserMessage("a"), UserMessage("b"), UserMessage("c")))
    four = Conversation((*three.messages, UserMessage("d")))
    assert check_request_limits(attrs.evolve(REQUEST, conversation=three), CAPPED).unwrap() is None
    refused = check_request_limits(attrs.evolve(REQUEST, conversation=four), CAPPED)
    assert refused == Failure(
        InvalidRequest(
            "messages has 4 messages; this server accepts at most 3",
            param="messages",
            code="too_many_messages",
        )
    )


def test_a_prompt_over_the_servers_cap_says_context_length_exceeded() -> None:
    assert build_plan(REQUEST, prompt_of(40), CAPPED).unwrap().max_tokens == 16
    match build_plan(REQUEST, prompt_of(41), CAPPED):
        case Failure(InvalidRequest(param="messages", code="context_length_exceeded")):
            pass
        case other:
            pytest.fail(f"unexpected {other}")


def test_the_default_completion_never_passes_the_cap() -> None:
    limits = attrs.evolve(LIMITS, default_max_tokens=64, max_completion_tokens=20)
    assert build_plan(REQUEST, prompt_of(3), limits).unwrap().max_tokens == 20


def test_without_caps_only_the_context_limits() -> None:
    assert check_request_limits(with_max_tokens(10_000), LIMITS).unwrap() is None


def test_the_output_cap_clamps_a_larger_max_tokens_instead_of_refusing_it() -> None:
    # An agent asks for 32000 tokens with a prompt that leaves far less room: it gets the cap.
    limits = attrs.evolve(LIMITS, max_output_tokens=12)
    assert check_request_limits(with_max_tokens(32_000), limits).unwrap() is None
    assert build_plan(with_max_tokens(32_000), prompt_of(80), limits).unwrap().max_tokens == 12
    assert build_plan(with_max_tokens(5), prompt_of(80), limits).unwrap().max_tokens == 5
    assert build_plan(REQUEST, prompt_of(80), limits).unwrap().max_tokens == 12


def test_the_output_cap_still_leaves_the_context_check() -> None:
    limits = attrs.evolve(LIMITS, max_output_tokens=30)
    assert build_plan(with_max_tokens(32_000), prompt_of(80), limits) == Failure(
        ContextLengthExceeded(prompt_tokens=80, max_tokens=30, limit=100)
    )
