"""The legacy completions steps: a CompletionRequest → one plan per prompt, and the engine's
choices back into text choices, numbered as OpenAI numbers them.

Each prompt is its own engine job of ``n`` choices; choice ``c`` of prompt ``p`` is the
response's choice ``p * n + c``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Protocol

import attrs
from returns.pipeline import flow
from returns.pointfree import bind
from returns.result import Failure, Result, Success, safe

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.domain.events import (
    Completion,
    Delta,
    Event,
    Failed,
    Finished,
    TextChoice,
    Usage,
    add_choice_usage,
    add_prompt_usage,
)
from mlxfn.domain.request import CompletionRequest, PromptInput
from mlxfn.pipeline.chat import check_model
from mlxfn.pipeline.plan import (
    GenerationPlan,
    Limits,
    build_plan,
    check_choices,
    check_max_tokens_and_logit_bias,
)
from mlxfn.pipeline.prompt import Prompt


class TextTokenizer(Protocol):
    """The part of a tokenizer plain-text prompts need (mlx-lm's TokenizerWrapper has it)."""

    def encode(self, text: str, **kwargs: Any) -> list[int]: ...

    def decode(self, token_ids: list[int], **kwargs: Any) -> str: ...


@attrs.frozen(kw_only=True)
class TextCompletionPlan:
    """One engine plan per prompt, each of ``n`` choices, and the text each prompt's choices
    start with (the prompt's own with ``echo``, else empty)."""

    plans: tuple[GenerationPlan, ...]
    echoes: tuple[str, ...]
    n: int

    @property
    def choices(self) -> int:
        return len(self.plans) * self.n


def plan_text_completion(
    request: CompletionRequest, tokenizer: TextTokenizer, limits: Limits, served: str
) -> Result[TextCompletionPlan, ApiError]:
    """Check the model and the server's caps (all prompts' choices together), then tokenize
    each prompt (no template) and fit it into the context."""

    def caps(_: None) -> Result[None, ApiError]:
        return check_max_tokens_and_logit_bias(request, limits).bind(
            lambda _: check_choices(len(request.prompts) * request.n.value, limits)
        )

    def plans(_: None) -> Result[TextCompletionPlan, ApiError]:
        return _plan_prompts(request, tokenizer, limits)

    checked = check_model(served, request.model, limits.model_aliases)
    return flow(checked, bind(caps), bind(plans))


def _plan_prompts(
    request: CompletionRequest, tokenizer: TextTokenizer, limits: Limits
) -> Result[TextCompletionPlan, ApiError]:
    def plan_one(prompt: PromptInput) -> Result[tuple[GenerationPlan, str], ApiError]:
        return Result.do(
            (plan, echo)
            for tokens in build_text_completion_prompt(prompt, tokenizer, limits.vocab_size)
            for plan in build_plan(request, tokens, limits)
            for echo in (echo_text(prompt, tokenizer) if request.echo else Success(""))
        )

    pairs: list[tuple[GenerationPlan, str]] = []
    for prompt in request.prompts:  # the first prompt that fails ends the planning
        planned = plan_one(prompt)
        if isinstance(planned, Failure):
            return Failure(planned.failure())
        pairs.append(planned.unwrap())
    return Success(
        TextCompletionPlan(
            plans=tuple(plan for plan, _ in pairs),
            echoes=tuple(echo for _, echo in pairs),
            n=request.n.value,
        )
    )


# What a tokenizer raises on input it cannot take: the client's input, so a 400.
_TOKENIZER_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError)


@safe(exceptions=_TOKENIZER_ERRORS)
def _encode(tokenizer: TextTokenizer, text: str) -> tuple[int, ...]:
    # the tokenizer's own default: a BOS where it adds one, as mlx_lm.server's completions
    return tuple(int(token) for token in tokenizer.encode(text))


@safe(exceptions=_TOKENIZER_ERRORS)
def _decode(tokenizer: TextTokenizer, token_ids: tuple[int, ...]) -> str:
    return tokenizer.decode(list(token_ids))


def build_text_completion_prompt(
    prompt: PromptInput, tokenizer: TextTokenizer, vocab_size: int | None
) -> Result[Prompt, ApiError]:
    """Text is tokenized as it is, with no template; token ids are used as given, once they
    are known to be inside the vocabulary.

    >>> build_text_completion_prompt((1, 9), None, vocab_size=8).failure().param
    'prompt'
    """
    if isinstance(prompt, str):
        return _encode(tokenizer, prompt).alt(_untokenizable).map(Prompt)
    largest = max(prompt)
    if vocab_size is not None and largest >= vocab_size:
        return Failure(
            InvalidRequest(
                f"prompt names token id {largest}, outside this model's vocabulary "
                f"(ids 0 to {vocab_size - 1})",
                param="prompt",
            )
        )
    return Success(Prompt(prompt))


def _untokenizable(exc: Exception) -> ApiError:
    return InvalidRequest(f"the prompt could not be tokenized: {exc}", param="prompt")


def decode_tokens(
    tokens: tuple[int, ...], tokenizer: TextTokenizer, vocab_size: int | None
) -> Result[str, ApiError]:
    """Token ids back to text (``/detokenize``), once each is known to be in the vocabulary.

    >>> decode_tokens((1, 9), None, vocab_size=8).failure().param
    'tokens[1]'
    """
    outside = next(
        (i for i, t in enumerate(tokens) if vocab_size is not None and t >= vocab_size), None
    )
    if outside is not None and vocab_size is not None:
        why = (
            f"token id {tokens[outside]} is outside this model's vocabulary "
            f"(ids 0 to {vocab_size - 1})"
        )
        return Failure(InvalidRequest(why, param=f"tokens[{outside}]"))
    return _decode(tokenizer, tokens).alt(
        lambda exc: InvalidRequest(f"the tokens could not be decoded: {exc}", "tokens")
    )


def echo_text(prompt: PromptInput, tokenizer: TextTokenizer) -> Result[str, ApiError]:
    """The text ``echo`` puts before a prompt's choices: the prompt as sent, or its token
    ids detokenized."""
    if isinstance(prompt, str):
        return Success(prompt)
    return _decode(tokenizer, prompt).alt(
        lambda exc: InvalidRequest(f"the prompt's tokens could not be decoded: {exc}", "prompt")
    )


def renumber(event: Event, first: int) -> Event:
    """An engine event of one prompt's job, with its choice numbered among the request's
    (``first`` is the prompt's first choice, ``prompt_index * n``).

    >>> renumber(Delta("a", index=1), 4).index
    5
    """
    match event:
        case Delta() | Finished():
            return attrs.evolve(event, index=first + event.index)
        case Failed():
            return event


def build_text_choices(
    completions: Sequence[Completion], plan: TextCompletionPlan
) -> tuple[TextChoice, ...]:
    """The whole choices, in index order, each after its prompt's echo."""
    return tuple(
        TextChoice(
            index=completion.index,
            echo=plan.echoes[completion.index // plan.n],
            text=completion.content,
            # no tool reading on this endpoint: the engine's own reason
            finish_reason="length" if completion.finish_reason == "length" else "stop",
            logprobs=completion.logprobs,
        )
        for completion in completions
    )


def total_usage(usages: Sequence[tuple[int, Usage]], n: int) -> Usage:
    """The usage of all choices, given as (choice index, usage): each prompt counted once,
    however many choices it has, and every completion summed.

    >>> total_usage([(0, Usage(5, 2)), (1, Usage(5, 3)), (2, Usage(4, 1))], n=2)
    Usage(prompt_tokens=9, completion_tokens=6, cached_tokens=0)
    """
    by_prompt: dict[int, Usage] = {}
    for index, usage in usages:
        prompt = index // n
        by_prompt[prompt] = add_choice_usage(by_prompt.get(prompt), usage)
    totals = [by_prompt[prompt] for prompt in sorted(by_prompt)]
    return functools.reduce(add_prompt_usage, totals[1:], totals[0])
