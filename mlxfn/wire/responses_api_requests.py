"""Responses API request bytes → domain values: the same ChatRequest chat completions make.

The body's own fields (sampling, limits, ``text.format``, the fields accepted and left alone)
are checked here; ``responses_api_input.py`` turns ``input`` into chat messages, and
``responses_api_tools.py`` turns the tools into one ToolSpec.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import attrs
from returns.pipeline import flow
from returns.pointfree import bind
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, ContextLengthExceeded, InvalidRequest
from mlxfn.domain.messages import Conversation, Message, SystemMessage
from mlxfn.domain.request import DEFAULT_TEMPERATURE, DEFAULT_TOP_P, ChatRequest, SamplingParams
from mlxfn.domain.response_format import TEXT, JsonObjectFormat, ResponseFormat
from mlxfn.domain.responses_api import ResponsesRequest
from mlxfn.domain.values import (
    MaxTokens,
    MinP,
    ModelName,
    RepetitionPenalty,
    Seed,
    Temperature,
    TopK,
    TopP,
)
from mlxfn.wire.chat_tools import json_schema_format
from mlxfn.wire.request_parsing import check_stream_options, optional_field, parse_body
from mlxfn.wire.responses_api_bodies import ResponsesBody, TextFormatBody
from mlxfn.wire.responses_api_input import refine_input
from mlxfn.wire.responses_api_tools import refine_tools, tool_namespaces

_Check = Callable[[Any], bool]
# Fields OpenAI defines that mlxfn cannot honour: (field, is the value harmless?, why not).
UNSUPPORTED: tuple[tuple[str, _Check, str], ...] = (
    ("background", lambda v: v in (None, False), "background responses are not supported"),
    (
        "conversation",
        lambda v: v is None,
        "conversations are not supported; use previous_response_id",
    ),
    ("prompt", lambda v: v is None, "prompt templates are not supported"),
    ("context_management", lambda v: not v, "context management is not supported"),
    ("max_tool_calls", lambda v: v is None, "max_tool_calls is not supported"),
    ("top_logprobs", lambda v: v in (None, 0), "logprobs are not offered on this endpoint"),
    ("truncation", lambda v: v in (None, "disabled"), "only truncation 'disabled' is offered"),
    (
        "service_tier",
        lambda v: v in (None, "auto", "default"),
        "only service_tier 'auto' or 'default' is available",
    ),
)
# ``include`` values that ask for nothing this server leaves out: there is no encrypted
# reasoning, so asking for it (as Codex does with store: false) changes nothing.
HARMLESS_INCLUDES: Final = frozenset({"reasoning.encrypted_content"})
# Chat's names for the fields a Responses request spells otherwise, for errors of the shared
# pipeline (the context check, the server's caps, the schema compiler).
_RESPONSES_PARAM: Final[dict[str, str]] = {
    "messages": "input",
    "max_tokens": "max_output_tokens",
    "response_format": "text.format",
    "response_format.json_schema.name": "text.format.name",
    "response_format.json_schema.schema": "text.format.schema",
}


def parse_responses_request(body: bytes) -> Result[ResponsesRequest, ApiError]:
    """``POST /v1/responses`` body bytes → a ResponsesRequest, or the 4xx naming the field.

    >>> parse_responses_request(b'{"model": "m", "input": "hi"}').unwrap().input
    (UserMessage(content='hi', name=None),)
    >>> parse_responses_request(b'{"model": "m", "input": [{"type": "x"}]}').failure().param
    'input[0].type'
    """
    return parse_body(body, ResponsesBody, refine_responses_body).alt(responses_param)


def responses_param(err: ApiError) -> ApiError:
    """An error of the shared chat path, naming the field as a Responses request spells it.

    >>> responses_param(InvalidRequest("too long", param="max_tokens")).param
    'max_output_tokens'
    """
    match err:
        case InvalidRequest(param=str(param)) if param in _RESPONSES_PARAM:
            return attrs.evolve(err, param=_RESPONSES_PARAM[param])
        case ContextLengthExceeded(param="messages"):
            return attrs.evolve(err, param="input")
        case _:
            return err


def reject_unsupported(body: ResponsesBody) -> Result[ResponsesBody, ApiError]:
    """Fail on the first field set to something mlxfn does not honour."""
    for field, harmless, why in UNSUPPORTED:
        if not harmless(getattr(body, field)):
            return Failure(InvalidRequest(why, param=field, code="unsupported_parameter"))
    for index, included in enumerate(body.include or ()):
        if included not in HARMLESS_INCLUDES:
            return Failure(
                InvalidRequest(
                    f"include {included!r} is not supported",
                    param=f"include[{index}]",
                    code="unsupported_parameter",
                )
            )
    if body.text is not None and body.text.verbosity not in (None, "medium"):
        return Failure(
            InvalidRequest(
                "verbosity is not supported", param="text.verbosity", code="unsupported_parameter"
            )
        )
    if body.reasoning is not None and body.reasoning.effort is not None:
        return Failure(
            InvalidRequest(
                "this server has no reasoning effort control: a reasoning model thinks as its "
                "chat template has it",
                param="reasoning.effort",
                code="unsupported_parameter",
            )
        )
    return check_stream_options(body.stream, body.stream_options).map(lambda _: body)


def refine_responses_body(body: ResponsesBody) -> Result[ResponsesRequest, ApiError]:
    return flow(body, reject_unsupported, bind(_refine_checked))


def _refine_checked(body: ResponsesBody) -> Result[ResponsesRequest, ApiError]:
    return Result.do(
        ResponsesRequest(
            model=model,
            instructions=body.instructions,
            input=items,
            sampling=sampling,
            max_output_tokens=max_tokens,
            tools=tools,
            tool_choice=body.tool_choice if isinstance(body.tool_choice, str) else "auto",
            response_format=response_format,
            stream=bool(body.stream),
            store=body.store is not False,
            previous_response_id=body.previous_response_id,
            user=body.safety_identifier or body.user,
            metadata=dict(body.metadata or {}),
            namespaces=tool_namespaces(body),
        )
        for model in ModelName.parse(body.model)
        for items in refine_input(body.input)
        for sampling in _refine_sampling(body)
        for max_tokens in optional_field(
            body.max_output_tokens, lambda v: MaxTokens.parse(v, "max_output_tokens")
        )
        for tools in refine_tools(body)
        for response_format in refine_text_format(body.text.format if body.text else None)
    )


def _refine_sampling(body: ResponsesBody) -> Result[SamplingParams, ApiError]:
    return Result.do(
        SamplingParams(temperature=t, top_p=p, top_k=k, min_p=m, seed=s, repetition_penalty=r)
        for t in optional_field(body.temperature, Temperature.parse, DEFAULT_TEMPERATURE)
        for p in optional_field(body.top_p, TopP.parse, DEFAULT_TOP_P)
        for k in optional_field(body.top_k, TopK.parse)
        for m in optional_field(body.min_p, MinP.parse)
        for s in optional_field(body.seed, Seed.parse)
        for r in optional_field(body.repetition_penalty, RepetitionPenalty.parse)
    )


def refine_text_format(body: TextFormatBody | None) -> Result[ResponseFormat, ApiError]:
    """``text.format`` → the domain format that chat's response_format also becomes."""
    if body is None:
        return Success(TEXT)
    match body.type:
        case "text":
            return Success(TEXT)
        case "json_object":
            return Success(JsonObjectFormat())
        case "json_schema":
            if body.name is None:
                return Failure(
                    InvalidRequest("a json_schema format needs its name", param="text.format.name")
                )
            return json_schema_format(body.name, body.schema, body.description, body.strict).alt(
                responses_param
            )
        case other:
            return Failure(
                InvalidRequest(
                    f"text.format type must be 'text', 'json_object' or 'json_schema', "
                    f"got {other!r}",
                    param="text.format.type",
                )
            )


def build_chat_request(
    request: ResponsesRequest, earlier: tuple[Message, ...]
) -> Result[ChatRequest, ApiError]:
    """The chat request of one Responses turn: the instructions as a system message, then the
    stored earlier turns (an earlier request's instructions are not carried over, as at
    OpenAI), then this turn's input."""
    head = () if request.instructions is None else (SystemMessage(request.instructions),)
    messages = (*head, *earlier, *request.input)
    if not messages:
        return Failure(InvalidRequest("input must hold at least one item", param="input"))
    return Success(
        ChatRequest(
            model=request.model,
            conversation=Conversation(messages),
            sampling=request.sampling,
            max_tokens=request.max_output_tokens,
            stream=request.stream,
            user=request.user,
            tools=request.tools,
            response_format=request.response_format,
        )
    )
