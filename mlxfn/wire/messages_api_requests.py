"""Messages API request bytes → domain values: the same ChatRequest chat completions make.

The body's own fields (sampling, stop sequences, the fields accepted and left alone) are checked
here; ``messages_api_conversation.py`` turns ``system`` and ``messages`` into the conversation,
and ``messages_api_tools.py`` turns tools and the output format into their domain values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import attrs
from returns.pipeline import flow
from returns.pointfree import bind
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.domain.request import DEFAULT_TEMPERATURE, DEFAULT_TOP_P, ChatRequest, SamplingParams
from mlxfn.domain.values import (
    MaxTokens,
    MinP,
    ModelName,
    RepetitionPenalty,
    Seed,
    Stop,
    Temperature,
    TopK,
    TopP,
)
from mlxfn.wire.messages_api_bodies import (
    CountTokensBody,
    MessagesBody,
    OutputConfigBody,
    ThinkingConfigBody,
)
from mlxfn.wire.messages_api_conversation import refine_conversation
from mlxfn.wire.messages_api_tools import refine_output_format, refine_tools
from mlxfn.wire.request_parsing import optional_field, parse_body

_Check = Callable[[Any], bool]
# Fields Anthropic defines that mlxfn cannot honour: (field, is the value harmless?, why not).
# Those Claude Code sends (context_management, output_config.effort, thinking, metadata,
# cache_control) change nothing here and are accepted.
UNSUPPORTED: tuple[tuple[str, _Check, str], ...] = (
    ("mcp_servers", lambda v: not v, "MCP servers are not supported: this server runs no tools"),
    (
        "service_tier",
        lambda v: v in (None, "auto", "standard_only"),
        "only service_tier 'auto' or 'standard_only' is available",
    ),
)
THINKING_TYPES: Final = ("enabled", "disabled", "adaptive", "between_tools")
EFFORTS: Final = ("low", "medium", "high", "xhigh", "max")
SPEEDS: Final = ("standard", "fast")
MAX_TEMPERATURE: Final = 1.0  # Anthropic's range is [0, 1]
# Chat's names for the fields a Messages request spells otherwise, for errors of the shared
# pipeline (the server's caps, the schema compiler, the forced-call grammar).
_MESSAGES_PARAM: Final[dict[str, str]] = {
    "stop": "stop_sequences",
    "response_format": "output_config.format",
    "response_format.json_schema.schema": "output_config.format.schema",
}


def parse_messages_request(body: bytes) -> Result[ChatRequest, ApiError]:
    """``POST /v1/messages`` body bytes → a ChatRequest, or the 4xx naming the field.

    >>> body = b'{"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]}'
    >>> parse_messages_request(body).unwrap().conversation.messages
    (UserMessage(content='hi', name=None),)
    >>> parse_messages_request(b'{"model": "m", "messages": []}').failure().param
    'max_tokens'
    """
    return parse_body(body, MessagesBody, refine_messages_body).alt(messages_param)


def parse_count_tokens_request(body: bytes) -> Result[ChatRequest, ApiError]:
    """``POST /v1/messages/count_tokens`` body bytes → the ChatRequest whose prompt is counted."""
    return parse_body(body, CountTokensBody, refine_count_tokens_body).alt(messages_param)


def messages_param(err: ApiError) -> ApiError:
    """An error of the shared chat path, naming the field as a Messages request spells it.

    >>> messages_param(InvalidRequest("too many", param="stop")).param
    'stop_sequences'
    """
    match err:
        case InvalidRequest(param=str(param)) if param in _MESSAGES_PARAM:
            return attrs.evolve(err, param=_MESSAGES_PARAM[param])
        case _:
            return err


def reject_unsupported(body: MessagesBody) -> Result[MessagesBody, ApiError]:
    """Fail on the first field set to something mlxfn does not honour."""
    for field, harmless, why in UNSUPPORTED:
        if not harmless(getattr(body, field)):
            return Failure(InvalidRequest(why, param=field, code="unsupported_parameter"))
    return _check_accepted(body.thinking, body.output_config, body.speed).map(lambda _: body)


def _check_accepted(
    thinking: ThinkingConfigBody | None, output: OutputConfigBody | None, speed: str | None
) -> Result[None, ApiError]:
    """The fields accepted and left alone must still hold values Anthropic defines."""
    if thinking is not None and thinking.type not in THINKING_TYPES:
        return Failure(
            InvalidRequest(
                f"thinking.type must be one of {', '.join(THINKING_TYPES)}; got {thinking.type!r}",
                param="thinking.type",
            )
        )
    budget = None if thinking is None else thinking.budget_tokens
    if thinking is not None and thinking.type == "enabled" and (budget is None or budget < 1):
        return Failure(
            InvalidRequest(
                "thinking.budget_tokens: enabled thinking needs a positive budget_tokens",
                param="thinking.budget_tokens",
            )
        )
    if output is not None and output.effort not in (None, *EFFORTS):
        return Failure(
            InvalidRequest(
                f"output_config.effort must be one of {', '.join(EFFORTS)}; got {output.effort!r}",
                param="output_config.effort",
            )
        )
    if speed not in (None, *SPEEDS):
        return Failure(
            InvalidRequest(f"speed must be 'standard' or 'fast'; got {speed!r}", param="speed")
        )
    return Success(None)


def refine_messages_body(body: MessagesBody) -> Result[ChatRequest, ApiError]:
    return flow(body, reject_unsupported, bind(_refine_checked))


def _refine_checked(body: MessagesBody) -> Result[ChatRequest, ApiError]:
    return Result.do(
        ChatRequest(
            model=model,
            conversation=conversation,
            sampling=sampling,
            max_tokens=max_tokens,
            stop=stop,
            stream=bool(body.stream),
            user=body.metadata.user_id if body.metadata else None,
            tools=tools,
            response_format=response_format,
            continue_final=conversation.ends_with_prefill,
        )
        for model in ModelName.parse(body.model)
        for conversation in refine_conversation(body.system, body.messages)
        for sampling in _refine_sampling(body)
        for max_tokens in MaxTokens.parse(body.max_tokens)
        for stop in _refine_stop(body.stop_sequences)
        for tools in refine_tools(body.tools, body.tool_choice)
        for response_format in refine_output_format(body.output_config, body.output_format)
    )


def refine_count_tokens_body(body: CountTokensBody) -> Result[ChatRequest, ApiError]:
    """The request whose prompt is counted: its model, messages, system and tools."""
    if body.mcp_servers:
        return Failure(
            InvalidRequest(
                "MCP servers are not supported: this server runs no tools", param="mcp_servers"
            )
        )
    return _check_accepted(body.thinking, body.output_config, body.speed).bind(
        lambda _: Result.do(
            ChatRequest(
                model=model,
                conversation=conversation,
                tools=tools,
                continue_final=conversation.ends_with_prefill,
            )
            for model in ModelName.parse(body.model)
            for conversation in refine_conversation(body.system, body.messages)
            for tools in refine_tools(body.tools, body.tool_choice)
            for _format in refine_output_format(body.output_config, body.output_format)
        )
    )


def _temperature(raw: float) -> Result[Temperature, ApiError]:
    if raw > MAX_TEMPERATURE:
        return Failure(
            InvalidRequest(
                f"temperature must be a number in [0, 1], got {raw}", param="temperature"
            )
        )
    return Temperature.parse(raw)


def _refine_sampling(body: MessagesBody) -> Result[SamplingParams, ApiError]:
    return Result.do(
        SamplingParams(temperature=t, top_p=p, top_k=k, min_p=m, seed=s, repetition_penalty=r)
        for t in optional_field(body.temperature, _temperature, DEFAULT_TEMPERATURE)
        for p in optional_field(body.top_p, TopP.parse, DEFAULT_TOP_P)
        for k in optional_field(body.top_k, TopK.parse)
        for m in optional_field(body.min_p, MinP.parse)
        for s in optional_field(body.seed, Seed.parse)
        for r in optional_field(body.repetition_penalty, RepetitionPenalty.parse)
    )


def _refine_stop(raw: tuple[str, ...] | None) -> Result[Stop | None, ApiError]:
    return Success(None) if not raw else Stop.parse(raw)
