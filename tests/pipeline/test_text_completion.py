"""plan_text_completion and the choices it numbers, with a character tokenizer as the argument."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from returns.result import Failure

from mlxfn.domain.errors import ContextLengthExceeded, EngineFailed, InvalidRequest, ModelNotFound
from mlxfn.domain.events import Completion, Delta, Failed, Finished, ResponseMeta, Usage
from mlxfn.domain.request import CompletionRequest, PromptInput
from mlxfn.domain.values import ChoiceCount, MaxTokens, ModelName, Stop, TopLogprobs
from mlxfn.pipeline.plan import Limits
from mlxfn.pipeline.text_completion import (
    TextCompletionPlan,
    build_text_choices,
    plan_text_completion,
    renumber,
    total_usage,
)

BOS = 1


class CharTokenizer:
    """A BOS and then one id per character (its code point), as a tokenizer adding a BOS by
    default would; ``decode`` reverses it."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def encode(self, text: str, **kwargs: Any) -> list[int]:
        self.calls.append(kwargs)
        return [BOS, *(ord(c) for c in text)]

    def decode(self, token_ids: list[int], **kwargs: Any) -> str:
        return "".join(chr(t) for t in token_ids if t != BOS)


LIMITS = Limits(context_length=64, default_max_tokens=10, vocab_size=1000)


def request(*prompts: PromptInput, **fields: Any) -> CompletionRequest:
    return CompletionRequest(model=ModelName("tiny"), prompts=prompts, **fields)


def plan(req: CompletionRequest, limits: Limits = LIMITS) -> TextCompletionPlan:
    return plan_text_completion(req, CharTokenizer(), limits, "tiny").unwrap()


def test_text_is_tokenized_as_it_is_with_the_tokenizers_default_bos() -> None:
    tokenizer = CharTokenizer()
    planned = plan_text_completion(request("ab"), tokenizer, LIMITS, "tiny").unwrap()
    (only,) = planned.plans
    assert only.prompt == (BOS, ord("a"), ord("b"))
    assert tokenizer.calls == [{}]  # no add_special_tokens override, no template
    assert only.max_tokens == 16  # OpenAI's default for the endpoint
    assert only.keep_leading_space


def test_token_prompts_are_used_as_given() -> None:
    planned = plan(request((5, 6, 7), (8,)))
    assert [p.prompt for p in planned.plans] == [(5, 6, 7), (8,)]
    assert planned.echoes == ("", "")


def test_each_prompt_has_n_choices_and_the_request_settings() -> None:
    req = request(
        "a",
        "b",
        n=ChoiceCount(3),
        stop=Stop(("\n",)),
        logprobs=TopLogprobs(2),
        max_tokens=MaxTokens(4),
    )
    planned = plan(req)
    assert planned.n == 3
    assert planned.choices == 6
    for one in planned.plans:
        assert (one.n, one.stop, one.top_logprobs, one.max_tokens) == (3, ("\n",), 2, 4)


def test_echo_is_the_prompt_text_or_its_tokens_detokenized() -> None:
    planned = plan(request("hi", (ord("y"), ord("o")), echo=True))
    assert planned.echoes == ("hi", "yo")


def test_null_max_tokens_is_the_servers_default_capped_by_the_room_left() -> None:
    planned = plan(request("x" * 60, max_tokens=None))
    assert planned.plans[0].max_tokens == 64 - 61 == 3


def test_the_model_must_be_the_served_one() -> None:
    req = attrs.evolve(request("a"), model=ModelName("gpt-3.5-turbo-instruct"))
    assert plan_text_completion(req, CharTokenizer(), LIMITS, "tiny") == Failure(
        ModelNotFound("gpt-3.5-turbo-instruct")
    )


def test_a_token_outside_the_vocabulary_is_named() -> None:
    err = plan_text_completion(request((1, 1000)), CharTokenizer(), LIMITS, "tiny").failure()
    assert isinstance(err, InvalidRequest)
    assert err.param == "prompt"
    assert "1000" in err.message


def test_a_prompt_past_the_context() -> None:
    err = plan_text_completion(request("a", "b" * 60), CharTokenizer(), LIMITS, "tiny").failure()
    assert err == ContextLengthExceeded(61, 16, 64, "prompt")


def test_all_prompts_choices_count_against_the_cap() -> None:
    limits = attrs.evolve(LIMITS, max_choices=4)
    assert plan(request("a", "b", n=ChoiceCount(2)), limits).choices == 4
    err = plan_text_completion(
        request("a", "b", "c", n=ChoiceCount(2)), CharTokenizer(), limits, "tiny"
    ).failure()
    assert isinstance(err, InvalidRequest)
    assert (err.param, err.code) == ("n", "invalid_value")


def test_max_tokens_over_the_servers_cap() -> None:
    limits = attrs.evolve(LIMITS, max_completion_tokens=8)
    err = plan_text_completion(request("a"), CharTokenizer(), limits, "tiny").failure()
    assert isinstance(err, InvalidRequest)
    assert err.param == "max_tokens"


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (Delta("a", index=1), Delta("a", index=7)),
        (Finished("stop", Usage(1, 1), index=0), Finished("stop", Usage(1, 1), index=6)),
        (Failed(EngineFailed("x")), Failed(EngineFailed("x"))),
    ],
)
def test_renumber(event: object, expected: object) -> None:
    assert renumber(event, 6) == expected  # type: ignore[arg-type]


def test_choices_come_after_their_prompts_echo() -> None:
    planned = plan(request("ab", "c", n=ChoiceCount(2), echo=True))
    meta = ResponseMeta(id="cmpl-1", created=0, model="tiny")
    completions = [
        Completion(meta=meta, content=f"<{i}>", finish_reason="stop", usage=Usage(3, 1), index=i)
        for i in range(4)
    ]
    choices = build_text_choices(completions, planned)
    assert [(c.index, c.echo, c.text) for c in choices] == [
        (0, "ab", "<0>"),
        (1, "ab", "<1>"),
        (2, "c", "<2>"),
        (3, "c", "<3>"),
    ]


def test_usage_counts_each_prompt_once() -> None:
    usages = [(0, Usage(5, 2, 1)), (1, Usage(5, 3, 1)), (3, Usage(2, 4)), (2, Usage(2, 1))]
    assert total_usage(usages, 2) == Usage(7, 10, 1)
