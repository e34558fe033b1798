"""Domain values → OpenAI JSON: completions, stream chunks, models, errors, token counts."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, assert_never

import attrs

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
from mlxfn.domain.events import (
    Completion,
    ResponseFinishReason,
    ResponseMeta,
    TokenLogprob,
    Usage,
    add_choice_usage,
)
from mlxfn.domain.messages import ToolCall

JSON = dict[str, Any]


@attrs.frozen
class StreamMeta:
    """What every chunk of one stream repeats."""

    response: ResponseMeta
    include_usage: bool = False
    reasoning_field: str = "reasoning_content"
    with_logprobs: bool = False  # every content chunk carries a logprobs object


def render_error(err: ApiError) -> JSON:
    """The OpenAI error body; always all four keys.

    >>> render_error(ModelNotFound("gpt-4"))["error"]["code"]
    'model_not_found'
    """
    message, kind, param, code = _error_fields(err)
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _error_fields(err: ApiError) -> tuple[str, str, str | None, str | None]:
    match err:
        case InvalidRequest(message=message, param=param, code=code):
            return message, "invalid_request_error", param, code
        case Unauthorized(given=given):
            message = (
                "Incorrect API key provided"
                if given
                else "You didn't provide an API key. Send it in the Authorization header as "
                "'Authorization: Bearer YOUR_KEY'"
            )
            return message, "invalid_request_error", None, "invalid_api_key"
        case HostNotAllowed(host=host):
            return (
                f"Host '{host}' is not allowed: without an API key this server answers only "
                "requests addressed to its own address or a loopback name (localhost, "
                "127.0.0.1, [::1]), so that a web page cannot reach it through DNS rebinding; "
                "start it with --allowed-hosts NAME to allow another name",
                "invalid_request_error",
                None,
                "host_not_allowed",
            )
        case OriginNotAllowed(origin=origin):
            return (
                f"Origin '{origin}' is not allowed: requests from other web pages are refused; "
                "start the server with --cors-origins ORIGIN to allow a page's origin",
                "invalid_request_error",
                None,
                "origin_not_allowed",
            )
        case ModelNotFound(model=model):
            return (
                f"The model '{model}' does not exist or is not served here",
                "invalid_request_error",
                "model",
                "model_not_found",
            )
        case ResponseNotFound(response_id=response_id, param=param):
            return (
                f"No response with id '{response_id}' is stored here (responses are kept in "
                "memory only, for a bounded number, and only when sent with store: true)",
                "invalid_request_error",
                param,
                "response_not_found",
            )
        case ContextLengthExceeded(
            prompt_tokens=prompt, max_tokens=max_tokens, limit=limit, param=param
        ):
            return (
                f"This model's maximum context length is {limit} tokens. However, you requested "
                f"{prompt + max_tokens} tokens ({prompt} in the {param}, {max_tokens} in the "
                f"completion). Please reduce the length of the {param} or completion.",
                "invalid_request_error",
                param,
                "context_length_exceeded",
            )
        case Overloaded(pending=pending):
            return (
                f"The server is overloaded ({pending} requests pending); retry shortly",
                "server_overloaded",
                None,
                "server_overloaded",
            )
        case RouteNotFound(method=method, path=path):
            return f"Unknown route: {method} {path}", "invalid_request_error", None, "not_found"
        case MethodNotAllowed(method=method, path=path):
            return (
                f"Method {method} is not allowed for {path}",
                "invalid_request_error",
                None,
                "method_not_allowed",
            )
        case BodyTooLarge(limit_bytes=limit):
            return (
                f"Request body is larger than the limit of {limit} bytes",
                "invalid_request_error",
                None,
                "request_too_large",
            )
        case UnsupportedMediaType(content_type=given):
            sent = f"got '{given}'" if given else "none was sent"
            return (
                f"The body must be sent with Content-Type: application/json ({sent})",
                "invalid_request_error",
                None,
                "unsupported_media_type",
            )
        case Unavailable(reason=reason):
            return f"Service unavailable: {reason}", "server_error", None, "service_unavailable"
        case TimedOut(stage="queue", seconds=seconds):
            return (
                f"The request waited over {seconds:g} s for a free slot; retry shortly",
                "server_error",
                None,
                "timeout",
            )
        case TimedOut(seconds=seconds):
            return (
                f"The request took longer than this server's limit of {seconds:g} s",
                "server_error",
                None,
                "timeout",
            )
        case EngineFailed():
            return (
                "The server had an error while processing your request",
                "server_error",
                None,
                None,
            )
        case _:
            assert_never(err)


def render_usage(usage: Usage) -> JSON:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
    }


def render_token_logprob(scored: TokenLogprob) -> JSON:
    """One token in OpenAI's chat logprobs shape.

    >>> hi = TokenLogprob("hi", -0.5, (104, 105))
    >>> render_token_logprob(attrs.evolve(hi, top=(hi,)))  # doctest: +NORMALIZE_WHITESPACE
    {'token': 'hi', 'logprob': -0.5, 'bytes': [104, 105],
     'top_logprobs': [{'token': 'hi', 'logprob': -0.5, 'bytes': [104, 105]}]}
    """
    return {
        "token": scored.token,
        "logprob": scored.logprob,
        "bytes": list(scored.bytes),
        "top_logprobs": [
            {"token": top.token, "logprob": top.logprob, "bytes": list(top.bytes)}
            for top in scored.top
        ],
    }


def render_logprobs(logprobs: tuple[TokenLogprob, ...] | None) -> JSON | None:
    """A choice's ``logprobs``: null when not asked for."""
    if logprobs is None:
        return None
    return {"content": [render_token_logprob(t) for t in logprobs], "refusal": None}


DEFAULT_REASONING_FIELD = "reasoning_content"


def render_tool_call(call: ToolCall) -> JSON:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def render_message(completion: Completion, reasoning_field: str = DEFAULT_REASONING_FIELD) -> JSON:
    """The assistant message: ``content`` is null when the model only called tools."""
    content = completion.content if completion.content or not completion.tool_calls else None
    message: JSON = {"role": "assistant", "content": content, "refusal": None}
    if completion.reasoning is not None:
        message[reasoning_field] = completion.reasoning
    if completion.tool_calls:
        message["tool_calls"] = [render_tool_call(c) for c in completion.tool_calls]
    return message


def render_completion(
    completion: Completion, reasoning_field: str = DEFAULT_REASONING_FIELD
) -> JSON:
    return render_completions((completion,), reasoning_field)


def render_completions(
    choices: Sequence[Completion], reasoning_field: str = DEFAULT_REASONING_FIELD
) -> JSON:
    """A chat completion of one or more choices of the same prompt (``n``): the prompt's
    tokens are counted once, the choices' completion tokens summed."""
    first = choices[0]
    usage = functools.reduce(add_choice_usage, (c.usage for c in choices[1:]), first.usage)
    return {
        "id": first.meta.id,
        "object": "chat.completion",
        "created": first.meta.created,
        "model": first.meta.model,
        "choices": [_render_choice(choice, reasoning_field) for choice in choices],
        "usage": render_usage(usage),
    }


def _render_choice(completion: Completion, reasoning_field: str) -> JSON:
    return {
        "index": completion.index,
        "message": render_message(completion, reasoning_field),
        "logprobs": render_logprobs(completion.logprobs),
        "finish_reason": completion.finish_reason,
    }


def _chunk(meta: StreamMeta, choices: list[JSON]) -> JSON:
    chunk: JSON = {
        "id": meta.response.id,
        "object": "chat.completion.chunk",
        "created": meta.response.created,
        "model": meta.response.model,
        "choices": choices,
    }
    if meta.include_usage:
        chunk["usage"] = None
    return chunk


def _choice(
    delta: JSON,
    finish_reason: ResponseFinishReason | None,
    index: int,
    logprobs: JSON | None = None,
) -> JSON:
    return {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}


def render_role_chunk(meta: StreamMeta, index: int = 0) -> JSON:
    return _chunk(meta, [_choice({"role": "assistant", "content": ""}, None, index)])


def render_delta_chunk(
    meta: StreamMeta,
    text: str,
    index: int = 0,
    logprobs: tuple[TokenLogprob, ...] | None = None,
) -> JSON:
    """A content chunk; with logprobs asked for, those of the tokens whose text it carries."""
    return _chunk(meta, [_choice({"content": text}, None, index, render_logprobs(logprobs))])


def render_reasoning_chunk(meta: StreamMeta, text: str, index: int = 0) -> JSON:
    return _chunk(meta, [_choice({meta.reasoning_field: text}, None, index)])


def render_tool_call_chunks(
    meta: StreamMeta, call_index: int, call: ToolCall, index: int = 0
) -> list[JSON]:
    """OpenAI's deltas for one call: its id, type and name with empty arguments, then the
    arguments (whole: mlx-lm's parsers read a call only once it is complete)."""
    head = {
        "index": call_index,
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": ""},
    }
    arguments = {"index": call_index, "function": {"arguments": call.arguments}}
    return [
        _chunk(meta, [_choice({"tool_calls": [head]}, None, index)]),
        _chunk(meta, [_choice({"tool_calls": [arguments]}, None, index)]),
    ]


def render_finish_chunk(
    meta: StreamMeta,
    reason: ResponseFinishReason,
    index: int = 0,
    logprobs: tuple[TokenLogprob, ...] | None = None,
) -> JSON:
    """A choice's last chunk; it carries the logprobs of tokens whose text never reached
    ``content`` (a tool call's, say), so that the streamed logprobs add up to the whole."""
    return _chunk(meta, [_choice({}, reason, index, render_logprobs(logprobs))])


def render_usage_chunk(meta: StreamMeta, usage: Usage) -> JSON:
    return {**_chunk(meta, []), "usage": render_usage(usage)}


def render_token_count(
    token_ids: tuple[int, ...], context_length: int, token_strs: list[str] | None = None
) -> JSON:
    """vLLM's shape: ``token_strs`` is null unless asked for (``return_token_strs``)."""
    return {
        "count": len(token_ids),
        "max_model_len": context_length,
        "tokens": list(token_ids),
        "token_strs": token_strs,
    }


def render_detokenized(text: str) -> JSON:
    return {"prompt": text}
