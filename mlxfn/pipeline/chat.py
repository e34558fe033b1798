"""The chat steps composed: a parsed request → the plan the engine runs."""

from __future__ import annotations

from returns.pipeline import flow
from returns.pointfree import bind
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, ModelNotFound
from mlxfn.domain.request import ChatRequest
from mlxfn.domain.values import ModelName
from mlxfn.pipeline.plan import GenerationPlan, Limits, build_plan, check_request_limits
from mlxfn.pipeline.prompt import ChatTokenizer, Prompt, build_prompt


def check_model(served: str, model: ModelName | None) -> Result[None, ApiError]:
    """Only the served model answers; any other name is a 404, as OpenAI does.

    >>> check_model("tiny", ModelName("gpt-4"))
    <Failure: ModelNotFound(model='gpt-4')>
    """
    if model is None or model.value == served:
        return Success(None)
    return Failure(ModelNotFound(model.value))


def plan_chat(
    request: ChatRequest, tokenizer: ChatTokenizer, limits: Limits, served: str
) -> Result[GenerationPlan, ApiError]:
    """Check the model name and the server's caps, render and count the prompt, and fit it
    into the context."""

    def limits_of(_: None) -> Result[None, ApiError]:
        return check_request_limits(request, limits)

    def prompt_of(_: None) -> Result[Prompt, ApiError]:
        return build_prompt(request.conversation, tokenizer)

    def plan_of(prompt: Prompt) -> Result[GenerationPlan, ApiError]:
        return build_plan(request, prompt, limits)

    return flow(check_model(served, request.model), bind(limits_of), bind(prompt_of), bind(plan_of))
