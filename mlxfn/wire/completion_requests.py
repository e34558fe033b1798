"""Request bytes → a CompletionRequest: the legacy ``POST /v1/completions`` at the edge.

The field policy is chat's: every field OpenAI defines is honoured or rejected with a 400
naming it; fields nobody defines are ignored.
"""

from __future__ import annotations

from returns.pipeline import flow
from returns.pointfree import bind
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.domain.request import ONE_CHOICE, CompletionRequest, PromptInput
from mlxfn.domain.values import ChoiceCount, MaxTokens, ModelName, TopLogprobs
from mlxfn.wire.bodies import CompletionBody, PromptItemBody
from mlxfn.wire.request_parsing import (
    check_stream_options,
    optional_field,
    parse_body,
    refine_sampling,
    refine_stop,
)

# The legacy endpoint's own bound on logprobs, as OpenAI documents it.
MAX_LEGACY_LOGPROBS = 5
_PROMPT_SHAPES = "a string, an array of strings, an array of token ids, or an array of such arrays"


def parse_completion_request(body: bytes) -> Result[CompletionRequest, ApiError]:
    """Request body bytes → a CompletionRequest, or the 4xx error naming what is wrong.

    >>> parse_completion_request(b'{"model": "m", "prompt": "Once"}').unwrap().prompts
    ('Once',)
    >>> parse_completion_request(b'{"model": "m", "prompt": [[1, 2], [3]]}').unwrap().prompts
    ((1, 2), (3,))
    >>> parse_completion_request(b'{"model": "m", "prompt": "a", "suffix": "z"}').failure().code
    'unsupported_parameter'
    """
    return parse_body(body, CompletionBody, refine_completion_body)


def refine_completion_body(body: CompletionBody) -> Result[CompletionRequest, ApiError]:
    """A structured wire body → the domain request, checking every range."""
    return flow(body, reject_unsupported_completion, bind(_refine_checked_body))


def reject_unsupported_completion(body: CompletionBody) -> Result[CompletionBody, ApiError]:
    """Fail on the fields set to something mlxfn does not honour: a suffix (no served model
    fills in the middle) and a best_of that would rank candidates."""
    if body.suffix:  # null and "" ask for nothing after the completion
        return Failure(
            InvalidRequest(
                "suffix is not supported: the models served here have no fill-in-the-middle",
                param="suffix",
                code="unsupported_parameter",
            )
        )
    n = 1 if body.n is None else body.n
    if body.best_of is not None and body.best_of not in (1, n):
        return Failure(
            InvalidRequest(
                f"best_of is {body.best_of}: this server does not rank extra candidates by "
                "their log probability, so best_of must be null, 1, or equal to n",
                param="best_of",
                code="unsupported_parameter",
            )
        )
    return check_stream_options(body.stream, body.stream_options).map(lambda _: body)


def _refine_checked_body(body: CompletionBody) -> Result[CompletionRequest, ApiError]:
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return Result.do(
        CompletionRequest(
            model=model,
            prompts=prompts,
            sampling=sampling,
            max_tokens=max_tokens,
            stop=stop,
            n=n,
            echo=bool(body.echo),
            logprobs=logprobs,
            stream=bool(body.stream),
            include_usage=include_usage,
            user=body.user,
        )
        for model in ModelName.parse(body.model)
        for prompts in refine_prompt(body.prompt)
        for sampling in refine_sampling(body)
        for max_tokens in optional_field(body.max_tokens, MaxTokens.parse)
        for stop in refine_stop(body.stop)
        for n in optional_field(body.n, ChoiceCount.parse, ONE_CHOICE)
        for logprobs in refine_legacy_logprobs(body.logprobs)
    )


def refine_legacy_logprobs(raw: int | None) -> Result[TopLogprobs | None, ApiError]:
    """The legacy ``logprobs``: how many alternatives to report at each position, 0 to 5
    (each token's own logprob is reported with any of them); null asks for none.

    >>> refine_legacy_logprobs(2)
    <Success: TopLogprobs(value=2)>
    >>> refine_legacy_logprobs(6).failure().param
    'logprobs'
    """
    if raw is None:
        return Success(None)
    if not 0 <= raw <= MAX_LEGACY_LOGPROBS:
        return Failure(
            InvalidRequest(
                f"logprobs must be an integer in [0, {MAX_LEGACY_LOGPROBS}], got {raw}",
                param="logprobs",
            )
        )
    return Success(TopLogprobs(raw))


def _bad_prompt(why: str) -> Result[tuple[PromptInput, ...], ApiError]:
    return Failure(InvalidRequest(f"prompt {why}", param="prompt"))


def refine_prompt(
    raw: str | tuple[PromptItemBody, ...],
) -> Result[tuple[PromptInput, ...], ApiError]:
    """OpenAI's four prompt shapes → one or more prompts, each text or token ids. Whether
    the ids are inside the vocabulary is checked at planning, where the vocabulary is known.

    >>> refine_prompt(("a", "b")).unwrap(), refine_prompt((5, 6)).unwrap()
    (('a', 'b'), ((5, 6),))
    >>> refine_prompt(("a", 5)).failure().param
    'prompt'
    """
    if isinstance(raw, str):
        return _text_prompts((raw,))
    if not raw:
        return _bad_prompt("must not be an empty array")
    if all(isinstance(item, str) for item in raw):
        return _text_prompts(tuple(str(item) for item in raw))
    ids = tuple(item for item in raw if isinstance(item, int))
    if len(ids) == len(raw):
        return _token_prompts((ids,), nested=False)
    if all(isinstance(item, tuple) for item in raw):
        return _token_prompts(tuple(item for item in raw if isinstance(item, tuple)), nested=True)
    return _bad_prompt(f"mixes kinds of items; send {_PROMPT_SHAPES}")


def _text_prompts(texts: tuple[str, ...]) -> Result[tuple[PromptInput, ...], ApiError]:
    for index, text in enumerate(texts):
        if not text:
            where = "" if len(texts) == 1 else f" (item {index})"
            return _bad_prompt(f"must not be an empty string{where}")
    return Success(texts)


def _token_prompts(
    prompts: tuple[tuple[int, ...], ...], *, nested: bool
) -> Result[tuple[PromptInput, ...], ApiError]:
    for index, ids in enumerate(prompts):
        where = f" (item {index})" if nested else ""
        if not ids:
            return _bad_prompt(f"must not hold an empty array of token ids{where}")
        negative = next((token for token in ids if token < 0), None)
        if negative is not None:
            return _bad_prompt(f"token ids must be >= 0, got {negative}{where}")
    return Success(prompts)
