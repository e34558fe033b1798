"""Legacy completions at the edge: any input is a request or a 4xx naming the problem, valid
prompts come through as sent, and streamed logprobs add up to the whole."""

from __future__ import annotations

import itertools
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st
from returns.result import Result

from mlxfn.domain.errors import ApiError
from mlxfn.domain.events import TokenLogprob
from mlxfn.domain.request import CompletionRequest
from mlxfn.wire.bodies import CompletionBody
from mlxfn.wire.completion_requests import parse_completion_request
from mlxfn.wire.completions import TextOffset, render_legacy_logprobs
from mlxfn.wire.responses import render_error
from properties.outcomes import check_outcome, client_json
from properties.strategies import json_values, texts

FIELDS = [field.name for field in attrs.fields(CompletionBody)] + ["x_vendor", ""]
token_ids = st.integers(0, 2**31)
prompts = (
    texts.filter(bool)
    | st.lists(texts.filter(bool), min_size=1, max_size=4)
    | st.lists(token_ids, min_size=1, max_size=8)
    | st.lists(st.lists(token_ids, min_size=1, max_size=4), min_size=1, max_size=4)
)
# The right shape with a wrong or edge-case inside, for each kind of field.
NEAR_MISSES = st.sampled_from(
    [
        *(None, 0, 1, 5, 6, -1, 16, 0.5, 2.5, True, False, "", " ", "x", 2**63, -(2**63) - 1),
        *([], [""], [[]], [1, "a"], ["a", 1], [[1], [-1]], [-1]),
        *({}, {"include_usage": True}, {"5": 1}),
    ]
)
any_json = json_values(max_leaves=10) | NEAR_MISSES | prompts


def check(result: Result[CompletionRequest, ApiError]) -> ApiError | None:
    return check_outcome(result, CompletionRequest)


@given(body=st.binary())
def test_any_bytes(body: bytes) -> None:
    check(parse_completion_request(body))


@given(document=json_values(max_leaves=40))
def test_any_json_document(document: Any) -> None:
    check(parse_completion_request(client_json(document)))


@given(document=st.dictionaries(st.sampled_from(FIELDS), any_json, max_size=8))
def test_any_object_of_known_fields(document: dict[str, Any]) -> None:
    check(parse_completion_request(client_json(document)))


@given(prompt=prompts, field=st.sampled_from(FIELDS), value=any_json)
def test_valid_body_with_one_field_replaced(prompt: Any, field: str, value: Any) -> None:
    """A failure after one change to a valid body always names a field."""
    body = {"model": "m", "prompt": prompt, field: value}
    err = check(parse_completion_request(client_json(body)))
    if err is not None:
        assert render_error(err)["error"]["param"] is not None


def _as_sent(prompt: Any) -> tuple[object, ...]:
    if isinstance(prompt, str):
        return (prompt,)
    if all(isinstance(item, int) for item in prompt):
        return (tuple(prompt),)
    return tuple(item if isinstance(item, str) else tuple(item) for item in prompt)


@given(prompt=prompts)
def test_every_valid_prompt_comes_through_as_sent(prompt: Any) -> None:
    parsed = parse_completion_request(client_json({"model": "m", "prompt": prompt}))
    assert parsed.unwrap().prompts == _as_sent(prompt)


token_logprobs = st.builds(
    TokenLogprob,
    token=texts,
    logprob=st.floats(-100, 0),
    bytes=st.lists(st.integers(0, 255), max_size=4).map(tuple),
)


@given(
    tokens=st.lists(token_logprobs, max_size=12),
    cuts=st.lists(st.integers(0, 12), max_size=5),
    start=st.integers(0, 50),
)
def test_streamed_logprobs_add_up_to_the_whole(
    tokens: list[TokenLogprob], cuts: list[int], start: int
) -> None:
    """However a choice's tokens are spread over chunks, the chunks' legacy logprobs joined
    are the JSON answer's, text offsets included."""
    whole, end = render_legacy_logprobs(tuple(tokens), TextOffset(start))
    assert whole is not None
    joined: dict[str, list[Any]] = {key: [] for key in whole}
    offset = TextOffset(start)
    bounds = sorted({0, len(tokens), *(min(cut, len(tokens)) for cut in cuts)})
    for low, high in itertools.pairwise(bounds):
        part, offset = render_legacy_logprobs(tuple(tokens[low:high]), offset)
        assert part is not None
        for key, values in part.items():
            joined[key] += values
    assert joined == whole
    assert offset == end
    assert whole["text_offset"] == sorted(whole["text_offset"])
