"""build_plan never overfills the context, and refuses exactly when it cannot fit."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st
from returns.result import Failure, Success

from mlxfn.domain.errors import ContextLengthExceeded, InvalidRequest
from mlxfn.domain.request import ChatRequest
from mlxfn.domain.values import MaxTokens
from mlxfn.pipeline.plan import Limits, build_plan
from mlxfn.pipeline.prompt import Prompt
from properties.strategies import chat_requests, limits, prompts

small_max_tokens = st.none() | st.builds(MaxTokens, st.integers(1, 128))


@given(request=chat_requests, max_tokens=small_max_tokens, prompt=prompts, limits=limits)
def test_plan_fits_the_context_or_is_refused(
    request: ChatRequest, max_tokens: MaxTokens | None, prompt: Prompt, limits: Limits
) -> None:
    request = attrs.evolve(request, max_tokens=max_tokens)
    count = prompt.token_count
    wanted = max_tokens.value if max_tokens else 1  # with no max_tokens, one token must fit
    fits = count + wanted <= limits.context_length
    match build_plan(request, prompt, limits):
        case Success(plan):
            assert count > 0
            assert fits
            assert len(plan.prompt) + plan.max_tokens <= limits.context_length
            assert plan.max_tokens >= 1
            assert plan.prompt == prompt.token_ids
            assert plan.sampling == request.sampling
            assert plan.stop == (request.stop.sequences if request.stop else ())
            room = limits.context_length - count
            expected = max_tokens.value if max_tokens else min(limits.default_max_tokens, room)
            assert plan.max_tokens == expected
        case Failure(ContextLengthExceeded(prompt_tokens=p, max_tokens=m, limit=limit)):
            assert count > 0
            assert not fits
            assert (p, m, limit) == (count, wanted, limits.context_length)
        case Failure(InvalidRequest(param="messages")):
            assert count == 0
        case other:
            raise AssertionError(f"unexpected {other!r}")
