"""Request bytes → domain requests: the edge where untrusted JSON stops.

The field policy lives here. Every field OpenAI defines is either honoured (it changes what we
do) or rejected with a 400 naming it; fields nobody defines are ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from returns.pipeline import flow
from returns.pointfree import bind
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.domain.request import ONE_CHOICE, ChatRequest
from mlxfn.domain.values import ChoiceCount, MaxTokens, ModelName, TopLogprobs
from mlxfn.wire.bodies import ChatBody
from mlxfn.wire.chat_messages import refine_messages
from mlxfn.wire.chat_tools import refine_response_format, refine_tools
from mlxfn.wire.request_parsing import (
    check_stream_options,
    optional_field,
    parse_body,
    refine_sampling,
    refine_stop,
)

# Fields OpenAI defines that mlxfn cannot honour yet: (field, is the value harmless?, why not).
# A harmless value (null, the default, an empty list) is accepted; anything else is a 400.
_Check = Callable[[Any], bool]
UNSUPPORTED: tuple[tuple[str, _Check, str], ...] = (
    ("functions", lambda v: v is None, "functions is deprecated and not supported; use tools"),
    ("function_call", lambda v: v is None, "function_call is deprecated and not supported"),
    ("modalities", lambda v: v in (None, ("text",)), "only the text modality is supported"),
    ("audio", lambda v: v is None, "audio output is not supported"),
    ("prediction", lambda v: v is None, "predicted outputs are not supported"),
    ("reasoning_effort", lambda v: v is None, "this server has no reasoning effort control"),
    ("verbosity", lambda v: v is None, "verbosity is not supported"),
    ("web_search_options", lambda v: v is None, "web search is not supported"),
    ("moderation", lambda v: v is None, "moderation is not supported"),
    ("store", lambda v: v in (None, False), "this server does not store completions"),
    (
        "service_tier",
        lambda v: v in (None, "auto", "default"),
        "only service_tier 'auto' or 'default' is available",
    ),
)


def parse_chat_request(body: bytes) -> Result[ChatRequest, ApiError]:
    """Request body bytes → a ChatRequest, or the 4xx error naming what is wrong.

    >>> parse_chat_request(b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}')
    ... # doctest: +ELLIPSIS
    <Success: ChatRequest(model=ModelName(value='m'), ...)>
    >>> parse_chat_request(b'{"model": "m", "messages": [], "temperature": 3}').failure().param
    'messages'
    """
    return parse_body(body, ChatBody, refine_chat_body)


def reject_unsupported(body: ChatBody) -> Result[ChatBody, ApiError]:
    """Fail on the first field that is set to something mlxfn does not honour."""
    for field, harmless, why in UNSUPPORTED:
        if not harmless(getattr(body, field)):
            return Failure(InvalidRequest(why, param=field, code="unsupported_parameter"))
    return check_stream_options(body.stream, body.stream_options).map(lambda _: body)


def refine_chat_body(body: ChatBody) -> Result[ChatRequest, ApiError]:
    """A structured wire body → the domain request, checking every range."""
    return flow(body, reject_unsupported, bind(_refine_checked_body))


def _refine_max_tokens(body: ChatBody) -> Result[MaxTokens | None, ApiError]:
    # max_completion_tokens supersedes the deprecated max_tokens when both are sent.
    if body.max_completion_tokens is not None:
        return MaxTokens.parse(body.max_completion_tokens, "max_completion_tokens")
    return optional_field(body.max_tokens, MaxTokens.parse)


def _refine_logprobs(body: ChatBody) -> Result[TopLogprobs | None, ApiError]:
    if body.logprobs:
        return TopLogprobs.parse(body.top_logprobs or 0)
    if body.top_logprobs:  # 0 alone is harmless; more needs logprobs, as at OpenAI
        return Failure(
            InvalidRequest("top_logprobs needs logprobs set to true", param="top_logprobs")
        )
    return Success(None)


def _refine_checked_body(body: ChatBody) -> Result[ChatRequest, ApiError]:
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return Result.do(
        ChatRequest(
            model=model,
            conversation=conversation,
            sampling=sampling,
            max_tokens=max_tokens,
            stop=stop,
            n=n,
            logprobs=logprobs,
            stream=bool(body.stream),
            include_usage=include_usage,
            user=body.safety_identifier or body.user,
            tools=tools,
            response_format=response_format,
        )
        for model in ModelName.parse(body.model)
        for conversation in refine_messages(body.messages)
        for sampling in refine_sampling(body)
        for max_tokens in _refine_max_tokens(body)
        for stop in refine_stop(body.stop)
        for n in optional_field(body.n, ChoiceCount.parse, ONE_CHOICE)
        for tools in refine_tools(body)
        for response_format in refine_response_format(body.response_format)
        for logprobs in _refine_logprobs(body)
    )
