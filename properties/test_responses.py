"""Whatever the values, rendered errors, completions and chunks match OpenAI's schemas."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mlxfn.domain.errors import ApiError
from mlxfn.domain.events import Completion, FinishReason, ResponseMeta, Usage
from mlxfn.wire.responses import (
    StreamMeta,
    render_completion,
    render_delta_chunk,
    render_error,
    render_finish_chunk,
    render_role_chunk,
    render_usage_chunk,
)
from properties.strategies import (
    api_errors,
    completions,
    finish_reasons,
    response_metas,
    tricky_texts,
    usages,
)
from tests.schemas import validate


@given(err=api_errors)
def test_every_error_renders_four_keys(err: ApiError) -> None:
    rendered = render_error(err)
    assert set(rendered["error"]) == {"message", "type", "param", "code"}
    validate(rendered, "ErrorResponse")


@given(completion=completions)
def test_every_completion_matches_schema(completion: Completion) -> None:
    rendered = render_completion(completion)
    validate(rendered, "CreateChatCompletionResponse")
    assert rendered["choices"][0]["message"]["content"] == completion.content


@given(
    meta=response_metas,
    include_usage=st.booleans(),
    text=tricky_texts,
    reason=finish_reasons,
    usage=usages,
)
def test_every_chunk_matches_schema(
    meta: ResponseMeta, include_usage: bool, text: str, reason: FinishReason, usage: Usage
) -> None:
    stream = StreamMeta(meta, include_usage=include_usage)
    for chunk in (
        render_role_chunk(stream),
        render_delta_chunk(stream, text),
        render_finish_chunk(stream, reason),
        render_usage_chunk(stream, usage),
    ):
        validate(chunk, "CreateChatCompletionStreamResponse")
