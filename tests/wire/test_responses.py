"""Domain values → OpenAI JSON, checked against OpenAI's own JSON Schemas."""

from __future__ import annotations

from typing import Any

import pytest

from mlxfn.domain.errors import (
    ApiError,
    BodyTooLarge,
    ContextLengthExceeded,
    EngineFailed,
    HostNotAllowed,
    InvalidRequest,
    MethodNotAllowed,
    ModelNotFound,
    OriginNotAllowed,
    Overloaded,
    ResponseNotFound,
    RouteNotFound,
    TimedOut,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
)
from mlxfn.domain.events import Completion, FinishReason, ResponseMeta, Usage
from mlxfn.domain.models import ModelCard
from mlxfn.wire.models import render_model_cards
from mlxfn.wire.responses import (
    StreamMeta,
    render_completion,
    render_delta_chunk,
    render_error,
    render_finish_chunk,
    render_role_chunk,
    render_token_count,
    render_usage_chunk,
)
from tests.schemas import validate

JSON = dict[str, Any]
META = ResponseMeta(id="chatcmpl-1", created=1_700_000_000, model="tiny")
USAGE = Usage(prompt_tokens=7, completion_tokens=3)

ERRORS: list[ApiError] = [
    InvalidRequest("bad temperature", param="temperature"),
    InvalidRequest("n must be 1", param="n", code="unsupported_parameter"),
    InvalidRequest("body is not valid JSON"),
    Unauthorized(given=False),
    Unauthorized(given=True),
    HostNotAllowed("attacker.example:8000"),
    OriginNotAllowed("null"),
    ModelNotFound("gpt-4"),
    ContextLengthExceeded(prompt_tokens=10, max_tokens=5, limit=12),
    Overloaded(8),
    RouteNotFound("GET", "/nope"),
    ResponseNotFound("resp_1", param="previous_response_id"),
    MethodNotAllowed("PUT", "/v1/models"),
    BodyTooLarge(1024),
    UnsupportedMediaType("text/plain"),
    UnsupportedMediaType(""),
    Unavailable("shutting down"),
    TimedOut("queue", 30.0),
    TimedOut("total", 600.0),
    EngineFailed("secret stack trace"),
]


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("err", ERRORS, ids=repr)
def test_error_has_exactly_four_keys_and_matches_schema(err: ApiError) -> None:
    rendered = render_error(err)
    assert set(rendered) == {"error"}
    assert set(rendered["error"]) == {"message", "type", "param", "code"}
    validate(rendered, "ErrorResponse")


def test_invalid_request_is_rendered_as_is() -> None:
    err = InvalidRequest("only n=1 is supported", param="n", code="unsupported_parameter")
    assert render_error(err) == {
        "error": {
            "message": "only n=1 is supported",
            "type": "invalid_request_error",
            "param": "n",
            "code": "unsupported_parameter",
        }
    }


def test_context_length_exceeded_names_the_counts() -> None:
    error = render_error(ContextLengthExceeded(prompt_tokens=10, max_tokens=5, limit=12))["error"]
    assert (error["param"], error["code"]) == ("messages", "context_length_exceeded")
    assert "maximum context length is 12 tokens" in error["message"]
    assert "requested 15 tokens (10 in the messages, 5 in the completion)" in error["message"]


def test_model_not_found() -> None:
    error = render_error(ModelNotFound("gpt-4"))["error"]
    assert (error["param"], error["code"]) == ("model", "model_not_found")
    assert "gpt-4" in error["message"]


def test_engine_failure_detail_is_not_sent_to_the_client() -> None:
    error = render_error(EngineFailed("secret stack trace"))["error"]
    assert "secret" not in error["message"]
    assert error["type"] == "server_error"


# -- completions ----------------------------------------------------------------------------------


def completion(content: str = "Hello!", reason: FinishReason = "stop") -> Completion:
    return Completion(meta=META, content=content, finish_reason=reason, usage=USAGE)


@pytest.mark.parametrize("reason", ["stop", "length"])
@pytest.mark.parametrize("content", ["Hello!", "", "line\nbreak ✓ 😀"])
def test_completion_matches_schema(content: str, reason: FinishReason) -> None:
    validate(render_completion(completion(content, reason)), "CreateChatCompletionResponse")


def test_completion_shape() -> None:
    rendered = render_completion(completion())
    assert (rendered["id"], rendered["object"], rendered["created"], rendered["model"]) == (
        "chatcmpl-1",
        "chat.completion",
        1_700_000_000,
        "tiny",
    )
    assert rendered["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello!", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert rendered["usage"] == {
        "prompt_tokens": 7,
        "completion_tokens": 3,
        "total_tokens": 10,
        "prompt_tokens_details": {"cached_tokens": 0},
    }


# -- stream chunks --------------------------------------------------------------------------------


def chunks(meta: StreamMeta) -> list[JSON]:
    return [
        render_role_chunk(meta),
        render_delta_chunk(meta, "Hel"),
        render_delta_chunk(meta, "lo\n✓"),
        render_delta_chunk(meta, ""),
        render_finish_chunk(meta, "stop"),
        render_finish_chunk(meta, "length"),
    ]


@pytest.mark.parametrize("include_usage", [False, True])
def test_chunks_match_schema(include_usage: bool) -> None:
    meta = StreamMeta(META, include_usage=include_usage)
    for chunk in [*chunks(meta), render_usage_chunk(meta, USAGE)]:
        validate(chunk, "CreateChatCompletionStreamResponse")


def test_chunks_repeat_the_response_identity() -> None:
    meta = StreamMeta(META)
    for chunk in [*chunks(meta), render_usage_chunk(meta, USAGE)]:
        assert (chunk["id"], chunk["object"], chunk["created"], chunk["model"]) == (
            "chatcmpl-1",
            "chat.completion.chunk",
            1_700_000_000,
            "tiny",
        )


def test_chunk_deltas() -> None:
    meta = StreamMeta(META)
    assert render_role_chunk(meta)["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert render_delta_chunk(meta, "hi")["choices"][0]["delta"] == {"content": "hi"}
    finish = render_finish_chunk(meta, "length")["choices"][0]
    assert (finish["delta"], finish["finish_reason"]) == ({}, "length")
    assert render_delta_chunk(meta, "hi")["choices"][0]["finish_reason"] is None


def test_usage_is_null_on_every_chunk_but_the_last_when_asked_for() -> None:
    asked = StreamMeta(META, include_usage=True)
    assert all(chunk["usage"] is None for chunk in chunks(asked))
    last = render_usage_chunk(asked, USAGE)
    assert last["choices"] == []
    assert last["usage"] == {
        "prompt_tokens": 7,
        "completion_tokens": 3,
        "total_tokens": 10,
        "prompt_tokens_details": {"cached_tokens": 0},
    }
    assert all("usage" not in chunk for chunk in chunks(StreamMeta(META)))


# -- other endpoints ------------------------------------------------------------------------------


def test_model_list() -> None:
    cards = (
        ModelCard(id="tiny", created=5),
        ModelCard(id="tiny-lora", created=6, state="unloaded", parent="tiny"),
    )
    assert render_model_cards(cards) == {
        "object": "list",
        "data": [
            {"id": "tiny", "object": "model", "created": 5, "owned_by": "mlxfn", "state": "loaded"},
            {
                "id": "tiny-lora",
                "object": "model",
                "created": 6,
                "owned_by": "mlxfn",
                "state": "unloaded",
                "parent": "tiny",
            },
        ],
    }
    validate(render_model_cards(cards), "ListModelsResponse")


def test_token_count() -> None:
    assert render_token_count((5, 6, 7), 2048) == {
        "count": 3,
        "max_model_len": 2048,
        "tokens": [5, 6, 7],
        "token_strs": None,
    }
    spelled = render_token_count((5,), 2048, ["hi"])
    assert spelled["token_strs"] == ["hi"]
