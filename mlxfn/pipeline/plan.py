"""ChatRequest + Prompt → GenerationPlan: the context limit and the decoding settings."""

from __future__ import annotations

import attrs
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, ContextLengthExceeded, InvalidRequest
from mlxfn.domain.request import ChatRequest, CompletionRequest, SamplingParams
from mlxfn.pipeline.grammar import grammar_of
from mlxfn.pipeline.prompt import Prompt
from mlxfn.pipeline.reading import PLAIN_READING, OutputReading

_OPTIONAL_POSITIVE = attrs.validators.optional(attrs.validators.ge(1))
# The most choices one request may ask for (n, times the prompts of a completions request),
# unless the engine's batch is smaller: every choice is a sequence in the batch.
DEFAULT_MAX_CHOICES = 16


@attrs.frozen(kw_only=True)
class Limits:
    """The served model's limits and the server's own. ``default_max_tokens`` caps a request
    that names none; the optional caps bound what one request may ask (None: only the context).
    """

    context_length: int = attrs.field(validator=attrs.validators.ge(1))
    default_max_tokens: int = attrs.field(validator=attrs.validators.ge(1))
    max_completion_tokens: int | None = attrs.field(default=None, validator=_OPTIONAL_POSITIVE)
    # Unlike max_completion_tokens, which refuses a larger max_tokens, this clamps it: agent
    # clients ask for 32k tokens on every turn and must get a shorter answer, not a 400.
    max_output_tokens: int | None = attrs.field(default=None, validator=_OPTIONAL_POSITIVE)
    max_prompt_tokens: int | None = attrs.field(default=None, validator=_OPTIONAL_POSITIVE)
    max_messages: int | None = attrs.field(default=None, validator=_OPTIONAL_POSITIVE)
    max_choices: int = attrs.field(default=DEFAULT_MAX_CHOICES, validator=attrs.validators.ge(1))
    vocab_size: int | None = attrs.field(default=None, validator=_OPTIONAL_POSITIVE)
    # Other names a request may give the served model ("*": any), for clients that send a
    # model id of their own choosing (agent CLIs ask for their vendor's model names).
    model_aliases: frozenset[str] = frozenset()


@attrs.frozen(kw_only=True)
class GenerationPlan:
    """Everything the engine needs to generate ``n`` completions of one prompt (prefilled
    once, then forked); nothing it must check again.

    ``grammar``, when set, is an llguidance grammar (``LLMatcher.grammar_from_json_schema``,
    ``grammar_from_lark``, ...) that every generated token must keep to; the engine ends the
    sequence with "stop" once it is complete (see ``engine/constraint.py`` for the contract).
    """

    prompt: tuple[int, ...]
    max_tokens: int
    sampling: SamplingParams = attrs.field(factory=SamplingParams)
    stop: tuple[str, ...] = ()
    n: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    # How the server reads the text (thinking, tool calls); the engine does not look at it.
    reading: OutputReading = PLAIN_READING
    grammar: str | None = None
    # None: no logprobs; k: each token's logprob and the k most likely tokens at its position.
    top_logprobs: int | None = None
    # A text completion continues its prompt, so the first token's leading space is kept;
    # a chat reply drops it, as mlx-lm's detokenizers do.
    keep_leading_space: bool = False


def check_choices(choices: int, limits: Limits) -> Result[None, ApiError]:
    """A request's choices, all of its prompts together, within the server's cap."""
    if choices > limits.max_choices:
        return Failure(
            InvalidRequest(
                f"n asks for {choices} choices; this server generates at most "
                f"{limits.max_choices} per request",
                param="n",
                code="invalid_value",
            )
        )
    return Success(None)


def check_request_limits(request: ChatRequest, limits: Limits) -> Result[None, ApiError]:
    """The server's caps that need no prompt: the number of messages and the completion asked
    for. Checked before the chat template runs, so an oversized request costs nothing.

    >>> from mlxfn.domain.messages import Conversation, UserMessage
    >>> from mlxfn.domain.values import MaxTokens, ModelName
    >>> req = ChatRequest(model=ModelName("m"), conversation=Conversation((UserMessage("hi"),)),
    ...                   max_tokens=MaxTokens(500))
    >>> limits = Limits(context_length=8000, default_max_tokens=100, max_completion_tokens=256)
    >>> check_request_limits(req, limits).failure().param
    'max_tokens'
    """
    count = len(request.conversation.messages)
    if limits.max_messages is not None and count > limits.max_messages:
        return Failure(
            InvalidRequest(
                f"messages has {count} messages; this server accepts at most {limits.max_messages}",
                param="messages",
                code="too_many_messages",
            )
        )
    return check_max_tokens_and_logit_bias(request, limits).bind(
        lambda _: check_choices(request.n.value, limits)
    )


def check_max_tokens_and_logit_bias(
    request: ChatRequest | CompletionRequest, limits: Limits
) -> Result[None, ApiError]:
    """The completion asked for within the server's cap on one, and the logit biases'
    token ids inside the model's vocabulary: the two checks that need the limits, not a prompt."""
    cap = limits.max_completion_tokens
    if request.max_tokens is not None and cap is not None and request.max_tokens.value > cap:
        return Failure(
            InvalidRequest(
                f"max_tokens is {request.max_tokens.value}; this server allows at most {cap}",
                param="max_tokens",
                code="invalid_value",
            )
        )
    return _check_logit_bias(request, limits.vocab_size)


def _check_logit_bias(
    request: ChatRequest | CompletionRequest, vocab_size: int | None
) -> Result[None, ApiError]:
    bias = request.sampling.logit_bias
    if bias is None or vocab_size is None or not bias.entries:
        return Success(None)
    largest = bias.entries[-1][0]  # entries are sorted by token id
    if largest >= vocab_size:
        return Failure(
            InvalidRequest(
                f"logit_bias names token id {largest}, outside this model's vocabulary "
                f"(ids 0 to {vocab_size - 1})",
                param="logit_bias",
            )
        )
    return Success(None)


def build_plan(
    request: ChatRequest | CompletionRequest, prompt: Prompt, limits: Limits
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
    param = "messages" if isinstance(request, ChatRequest) else "prompt"
    if count == 0:
        return Failure(InvalidRequest("the prompt rendered to no tokens", param=param))
    if limits.max_prompt_tokens is not None and count > limits.max_prompt_tokens:
        # OpenAI's code for a prompt that does not fit, so clients that trim history on it work
        return Failure(
            InvalidRequest(
                f"The prompt has {count} tokens; this server accepts at most "
                f"{limits.max_prompt_tokens}. Please reduce the length of the {param}.",
                param=param,
                code="context_length_exceeded",
            )
        )
    room = limits.context_length - count
    clamp = limits.max_output_tokens
    if request.max_tokens is not None:
        wanted = request.max_tokens.value if clamp is None else min(request.max_tokens.value, clamp)
        if wanted > room:
            return Failure(ContextLengthExceeded(count, wanted, limits.context_length, param))
        max_tokens = wanted
    else:
        if room < 1:
            return Failure(ContextLengthExceeded(count, 1, limits.context_length, param))
        cap = limits.max_completion_tokens or limits.default_max_tokens
        max_tokens = min(limits.default_max_tokens, cap, room, clamp or room)
    return Success(
        GenerationPlan(
            prompt=prompt.token_ids,
            max_tokens=max_tokens,
            sampling=request.sampling,
            stop=request.stop.sequences if request.stop else (),
            n=request.n.value,
            grammar=(
                grammar_of(request.response_format) if isinstance(request, ChatRequest) else None
            ),
            top_logprobs=None if request.logprobs is None else request.logprobs.value,
            keep_leading_space=isinstance(request, CompletionRequest),
        )
    )
