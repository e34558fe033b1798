"""parse_completion_request: OpenAI's legacy completions body → a CompletionRequest, or a 400
naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from returns.result import Failure, Success

from mlxfn.domain.errors import InvalidRequest, error_status
from mlxfn.domain.request import CompletionRequest, SamplingParams
from mlxfn.domain.values import (
    ChoiceCount,
    LogitBias,
    MaxTokens,
    MinP,
    ModelName,
    Penalty,
    RepetitionPenalty,
    Seed,
    Stop,
    Temperature,
    TopK,
    TopLogprobs,
    TopP,
)
from mlxfn.wire.completion_requests import parse_completion_request
from mlxfn.wire.responses import render_error


def body(**fields: Any) -> bytes:
    return json.dumps({"model": "m", "prompt": "Once upon a", **fields}).encode()


def parse(**fields: Any) -> CompletionRequest:
    return parse_completion_request(body(**fields)).unwrap()


def rejected(raw: bytes) -> InvalidRequest:
    match parse_completion_request(raw):
        case Failure(InvalidRequest() as err):
            assert error_status(err) == 400
            assert set(render_error(err)["error"]) == {"message", "type", "param", "code"}
            return err
        case other:
            pytest.fail(f"expected Failure(InvalidRequest), got {other!r}")


def test_minimal_body_gets_openai_defaults() -> None:
    assert parse_completion_request(body()) == Success(
        CompletionRequest(model=ModelName("m"), prompts=("Once upon a",))
    )
    request = parse()
    assert request.max_tokens == MaxTokens(16)  # OpenAI's default for this endpoint
    assert request.n == ChoiceCount(1)
    assert not request.echo
    assert request.logprobs is None


def test_every_honoured_field() -> None:
    request = parse(
        temperature=0.5,
        top_p=0.9,
        seed=7,
        max_tokens=64,
        stop=["\n\n", "END"],
        n=3,
        best_of=3,
        echo=True,
        logprobs=5,
        stream=True,
        stream_options={"include_usage": True},
        frequency_penalty=0.5,
        presence_penalty=-1,
        logit_bias={"5": 10},
        user="u-1",
        suffix=None,
        top_k=40,
        min_p=0.05,
        repetition_penalty=1.1,
    )
    assert request == CompletionRequest(
        model=ModelName("m"),
        prompts=("Once upon a",),
        sampling=SamplingParams(
            temperature=Temperature(0.5),
            top_p=TopP(0.9),
            top_k=TopK(40),
            min_p=MinP(0.05),
            seed=Seed(7),
            logit_bias=LogitBias(((5, 10.0),)),
            presence_penalty=Penalty(-1.0),
            frequency_penalty=Penalty(0.5),
            repetition_penalty=RepetitionPenalty(1.1),
        ),
        max_tokens=MaxTokens(64),
        stop=Stop(("\n\n", "END")),
        n=ChoiceCount(3),
        echo=True,
        logprobs=TopLogprobs(5),
        stream=True,
        include_usage=True,
        user="u-1",
    )


@pytest.mark.parametrize(
    ("prompt", "prompts"),
    [
        ("hi", ("hi",)),
        (["a", "b", "c"], ("a", "b", "c")),
        ([1212, 318, 0], ((1212, 318, 0),)),
        ([[1, 2], [3]], ((1, 2), (3,))),
        (" ", (" ",)),  # blank text is still text to continue
    ],
)
def test_the_four_prompt_shapes(prompt: Any, prompts: tuple[object, ...]) -> None:
    assert parse(prompt=prompt).prompts == prompts


def test_null_max_tokens_leaves_the_cap_to_the_server() -> None:
    assert parse(max_tokens=None).max_tokens is None


def test_stop_as_a_string() -> None:
    assert parse(stop="\n").stop == Stop(("\n",))


@pytest.mark.parametrize("harmless", [{"suffix": None}, {"suffix": ""}, {"best_of": None}])
def test_harmless_values_of_unsupported_fields_pass(harmless: dict[str, Any]) -> None:
    assert parse(**harmless).prompts == ("Once upon a",)


@pytest.mark.parametrize(("n", "best_of"), [(None, 1), (1, 1), (4, 4), (3, 1)])  # 1: the default
def test_best_of_that_ranks_nothing_is_accepted(n: int | None, best_of: int) -> None:
    assert parse(n=n, best_of=best_of).n == ChoiceCount(n or 1)


def test_unknown_fields_are_ignored() -> None:
    assert parse(x_vendor={"a": 1}).prompts == ("Once upon a",)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": []}, "prompt"),
        ({"prompt": [[]]}, "prompt"),
        ({"prompt": [[1], []]}, "prompt"),
        ({"prompt": ["a", ""]}, "prompt"),
        ({"prompt": ["a", 1]}, "prompt"),
        ({"prompt": [1, [2]]}, "prompt"),
        ({"prompt": [1, -2]}, "prompt"),
        ({"prompt": [[1, -2]]}, "prompt"),
        ({"prompt": None}, "prompt"),
        ({"prompt": 5}, "prompt"),
        ({"prompt": {"text": "a"}}, "prompt"),
        ({"prompt": [True]}, "prompt[0]"),
        ({"prompt": [[1, "a"]]}, "prompt[0][1]"),
        ({"prompt": [1.5]}, "prompt[0]"),
        ({"logprobs": 6}, "logprobs"),
        ({"logprobs": -1}, "logprobs"),
        ({"logprobs": True}, "logprobs"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": "16"}, "max_tokens"),
        ({"n": 0}, "n"),
        ({"n": 129}, "n"),
        ({"echo": "yes"}, "echo"),
        ({"temperature": 3}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"stop": [""]}, "stop"),
        ({"presence_penalty": 2.5}, "presence_penalty"),
        ({"logit_bias": {"x": 1}}, "logit_bias"),
        ({"seed": 2**63}, "seed"),
        ({"model": " "}, "model"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        (
            {"stream": True, "stream_options": {"include_obfuscation": True}},
            "stream_options.include_obfuscation",
        ),
    ],
    ids=str,
)
def test_bad_values_name_their_field(fields: dict[str, Any], param: str) -> None:
    assert rejected(body(**fields)).param == param


def test_a_missing_prompt_or_model_is_named() -> None:
    assert rejected(json.dumps({"model": "m"}).encode()).param == "prompt"
    assert rejected(json.dumps({"prompt": "a"}).encode()).param == "model"


def test_suffix_is_unsupported() -> None:
    err = rejected(body(suffix="The end."))
    assert (err.param, err.code) == ("suffix", "unsupported_parameter")
    assert "fill-in-the-middle" in err.message


@pytest.mark.parametrize(("n", "best_of"), [(None, 2), (2, 5), (2, 3), (1, 0)])
def test_best_of_that_would_rank_is_unsupported(n: int | None, best_of: int) -> None:
    err = rejected(body(n=n, best_of=best_of))
    assert (err.param, err.code) == ("best_of", "unsupported_parameter")
    assert "rank" in err.message


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'"prompt"', b"null"])
def test_bodies_that_are_not_objects(raw: bytes) -> None:
    assert rejected(raw).param is None
