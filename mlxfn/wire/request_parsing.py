"""What every request parser shares: bytes → a JSON object → a wire body → the domain request,
the first failing step naming what is wrong; and the fields several surfaces refine alike
(optional fields, stream options, sampling, stop sequences)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from returns.pipeline import flow
from returns.pointfree import bind
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.domain.request import DEFAULT_TEMPERATURE, DEFAULT_TOP_P, SamplingParams
from mlxfn.domain.values import (
    LogitBias,
    MinP,
    Penalty,
    RepetitionPenalty,
    Seed,
    Stop,
    Temperature,
    TopK,
    TopP,
)
from mlxfn.wire.bodies import ChatBody, CompletionBody, StreamOptionsBody
from mlxfn.wire.codec import decode_json, require_object
from mlxfn.wire.converter import structure_as

_Body = TypeVar("_Body")
_Request = TypeVar("_Request")


def parse_body(
    body: bytes, wire: type[_Body], refine: Callable[[_Body], Result[_Request, ApiError]]
) -> Result[_Request, ApiError]:
    """Request bytes → a JSON object → the wire body ``wire`` → the domain request ``refine``
    makes of it; the first step that fails names what is wrong."""

    def structure(raw: dict[str, Any]) -> Result[_Body, ApiError]:
        return structure_as(raw, wire)

    return flow(body, decode_json, bind(require_object), bind(structure), bind(refine))


def check_stream_options(
    stream: bool | None, options: StreamOptionsBody | None
) -> Result[None, ApiError]:
    """``stream_options`` needs ``stream``, and obfuscation padding is not offered."""
    if options is not None and not stream:
        return Failure(
            InvalidRequest(
                "stream_options is only allowed when stream is true", param="stream_options"
            )
        )
    if options is not None and options.include_obfuscation:
        return Failure(
            InvalidRequest(
                "stream obfuscation is not supported",
                param="stream_options.include_obfuscation",
                code="unsupported_parameter",
            )
        )
    return Success(None)


def optional_field(
    raw: Any, parse: Callable[[Any], Result[Any, ApiError]], default: Any = None
) -> Result[Any, ApiError]:
    return Success(default) if raw is None else parse(raw)


def refine_stop(raw: str | tuple[str, ...] | None) -> Result[Stop | None, ApiError]:
    if raw is None:
        return Success(None)
    return Stop.parse((raw,) if isinstance(raw, str) else raw)


def _penalty(raw: float | None, param: str) -> Result[Penalty | None, ApiError]:
    # 0 is OpenAI's default and changes nothing: no processor for it
    if raw is None or raw == 0:
        return Success(None)
    return Penalty.parse(raw, param)


def _refine_logit_bias(raw: dict[str, float] | None) -> Result[LogitBias | None, ApiError]:
    return Success(None) if not raw else LogitBias.parse(raw)


def refine_sampling(body: ChatBody | CompletionBody) -> Result[SamplingParams, ApiError]:
    return Result.do(
        SamplingParams(
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            min_p=min_p,
            seed=seed,
            logit_bias=logit_bias,
            presence_penalty=presence,
            frequency_penalty=frequency,
            repetition_penalty=repetition,
        )
        for temperature in optional_field(body.temperature, Temperature.parse, DEFAULT_TEMPERATURE)
        for top_p in optional_field(body.top_p, TopP.parse, DEFAULT_TOP_P)
        for top_k in optional_field(body.top_k, TopK.parse)
        for min_p in optional_field(body.min_p, MinP.parse)
        for seed in optional_field(body.seed, Seed.parse)
        for logit_bias in _refine_logit_bias(body.logit_bias)
        for presence in _penalty(body.presence_penalty, "presence_penalty")
        for frequency in _penalty(body.frequency_penalty, "frequency_penalty")
        for repetition in optional_field(body.repetition_penalty, RepetitionPenalty.parse)
    )
