"""ChatRequest + Prompt → GenerationPlan: the context limit and the decoding settings."""

from __future__ import annotations

import attrs
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, ContextLengthExceeded, InvalidRequest
from mlxfn.domain.request import ChatRequest, SamplingParams
from mlxfn.pipeline.prompt import Prompt


@attrs.frozen(kw_only=True)
class Limits:
    """The served model's limits. ``default_max_tokens`` caps a request that names none."""

    context_length: int = attrs.field(validator=attrs.validators.ge(1))
    default_max_tokens: int = attrs.field(validator=attrs.validators.ge(1))


@attrs.frozen(kw_only=True)
class GenerationPlan:
    """Everything the engine needs to generate one completion; nothing it must check again."""

    prompt: tuple[int, ...]
    max_tokens: int
    sampling: SamplingParams = attrs.field(factory=SamplingParams)
    stop: tuple[str, ...] = ()


def build_plan(
    request: ChatRequest, prompt: Prompt, limits: Limits
) -> Result[GenerationPlan, ApiError]:
    """Check the prompt against the context and settle how many tokens may be generated.

    >>> from mlxfn.domain.messages import Conversation, UserMessage
    >>> from mlxfn.domain.values import ModelName
    >>> req = ChatRequest(model=ModelName("m"), conversation=Conversation((UserMessage("hi"),)))
    >>> limits = Limits(context_length=8, default_max_tokens=100)
    >>> build_plan(req, Prompt((1, 2, 3)), limits).unwrap().max_tokens
    5
    """
    count = prompt.token_count
    if count == 0:
        return Failure(InvalidRequest("the prompt rendered to no tokens", param="messages"))
    room = limits.context_length - count
    if request.max_tokens is not None:
        wanted = request.max_tokens.value
        if wanted > room:
            return Failure(ContextLengthExceeded(count, wanted, limits.context_length))
        max_tokens = wanted
    else:
        if room < 1:
            return Failure(ContextLengthExceeded(count, 1, limits.context_length))
        max_tokens = min(limits.default_max_tokens, room)
    return Success(
        GenerationPlan(
            prompt=prompt.token_ids,
            max_tokens=max_tokens,
            sampling=request.sampling,
            stop=request.stop.sequences if request.stop else (),
        )
    )
