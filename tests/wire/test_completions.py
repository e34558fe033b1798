"""The text_completion object and its legacy logprobs, checked against OpenAI's schema."""

from __future__ import annotations

import jsonschema  # type: ignore[import-untyped]
import pytest

from mlxfn.domain.events import ResponseMeta, TextChoice, TokenLogprob, Usage
from mlxfn.wire.completions import (
    TextOffset,
    render_legacy_logprobs,
    render_text_chunk,
    render_text_completion,
    render_text_usage_chunk,
    render_token_alternatives,
)
from tests.schemas import validate_completion_chunk, validate_openapi

META = ResponseMeta(id="cmpl-1", created=1700000000, model="tiny")


def scored(token: str, logprob: float, *top: tuple[str, float]) -> TokenLogprob:
    alternatives = tuple(TokenLogprob(t, lp, tuple(t.encode())) for t, lp in top)
    return TokenLogprob(token, logprob, tuple(token.encode()), alternatives)


SPACE_TIME = scored(" time", -0.25, (" time", -0.25), (" day", -1.5))
COMMA = scored(",", -2.0, (".", -0.5), (",", -2.0))


def test_legacy_logprobs_shape() -> None:
    rendered, end = render_legacy_logprobs((SPACE_TIME, COMMA), TextOffset(0))
    assert rendered == {
        "tokens": [" time", ","],
        "token_logprobs": [-0.25, -2.0],
        "top_logprobs": [{" time": -0.25, " day": -1.5}, {".": -0.5, ",": -2.0}],
        "text_offset": [0, 5],
    }
    assert end == TextOffset(6)


def test_not_asked_is_null() -> None:
    assert render_legacy_logprobs(None, TextOffset(4)) == (None, TextOffset(4))


def test_the_chosen_token_is_always_among_the_alternatives() -> None:
    unlikely = scored("zz", -9.0, ("a", -0.1), ("b", -0.2))
    assert render_token_alternatives(unlikely) == {"a": -0.1, "b": -0.2, "zz": -9.0}
    alone = scored("a", -0.1)  # logprobs: 0 asks for no alternatives
    assert render_token_alternatives(alone) == {"a": -0.1}


def test_alternatives_with_the_same_text_keep_the_likelier() -> None:
    part = TokenLogprob("\ufffd", -1.0, (0xC3,), (TokenLogprob("\ufffd", -1.0, (0xC3,)),))
    part = TokenLogprob("\ufffd", -1.0, (0xC3,), (*part.top, TokenLogprob("\ufffd", -3.0, (0xE2,))))
    assert render_token_alternatives(part) == {"\ufffd": -1.0}


def test_offsets_count_characters_and_wait_for_split_ones() -> None:
    # "é" is two bytes, here split over two tokens; "!" after it starts at character 2
    first = TokenLogprob("\ufffd", -1.0, (0xC3,))
    second = TokenLogprob("\ufffd", -1.0, (0xA9,))
    bang = TokenLogprob("!", -1.0, (0x21,))
    rendered, end = render_legacy_logprobs((first, second, bang), TextOffset(1))
    assert rendered is not None
    assert rendered["text_offset"] == [1, 1, 2]
    assert end == TextOffset(3)


def test_offsets_carry_from_chunk_to_chunk() -> None:
    tokens = (SPACE_TIME, COMMA, SPACE_TIME)
    whole, _ = render_legacy_logprobs(tokens, TextOffset(3))
    offsets: list[int] = []
    offset = TextOffset(3)
    for token in tokens:
        part, offset = render_legacy_logprobs((token,), offset)
        assert part is not None
        offsets += part["text_offset"]
    assert whole is not None
    assert offsets == whole["text_offset"]


def test_text_completion_puts_the_echo_first_and_offsets_after_it() -> None:
    choices = (
        TextChoice(
            index=0,
            echo="Once upon a",
            text=" time,",
            finish_reason="length",
            logprobs=(SPACE_TIME, COMMA),
        ),
        TextChoice(index=1, echo="Once upon a", text=" day", finish_reason="stop", logprobs=()),
    )
    body = render_text_completion(META, choices, Usage(4, 3))
    validate_openapi(body, "CreateCompletionResponse")
    assert body["object"] == "text_completion"
    assert [c["text"] for c in body["choices"]] == ["Once upon a time,", "Once upon a day"]
    assert body["choices"][0]["logprobs"]["text_offset"] == [11, 16]
    assert body["choices"][1]["logprobs"]["tokens"] == []
    assert body["usage"]["total_tokens"] == 7


def test_without_logprobs_each_choice_says_null() -> None:
    choice = TextChoice(index=0, echo="", text="x", finish_reason="stop")
    body = render_text_completion(META, (choice,), Usage(1, 1))
    validate_openapi(body, "CreateCompletionResponse")
    assert body["choices"] == [{"index": 0, "text": "x", "logprobs": None, "finish_reason": "stop"}]


@pytest.mark.parametrize(
    "chunk",
    [
        render_text_chunk(META, 3, " time"),
        render_text_chunk(META, 0, "", None, "length"),
        render_text_chunk(META, 1, ",", render_legacy_logprobs((COMMA,), TextOffset(5))[0]),
        render_text_usage_chunk(META, Usage(4, 3)),
    ],
)
def test_chunks_are_text_completion_objects(chunk: dict[str, object]) -> None:
    validate_completion_chunk(chunk)
    assert chunk["object"] == "text_completion"
    assert "usage" not in chunk or chunk["choices"] == []


def test_only_a_stream_chunk_may_have_no_finish_reason() -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate_openapi(render_text_chunk(META, 0, "x"), "CreateCompletionResponse")
    with pytest.raises(jsonschema.ValidationError):
        validate_completion_chunk({**render_text_chunk(META, 0, "x"), "object": "chat.completion"})
