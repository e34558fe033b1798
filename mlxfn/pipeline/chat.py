"""The chat steps composed: a parsed request → the plan the engine runs."""

from __future__ import annotations

import attrs
from returns.pipeline import flow
from returns.pointfree import bind
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, ModelNotFound
from mlxfn.domain.request import ChatRequest
from mlxfn.domain.tools import FunctionTool, ToolSpec
from mlxfn.domain.values import ModelName
from mlxfn.pipeline.plan import GenerationPlan, Limits, build_plan, check_request_limits
from mlxfn.pipeline.prompt import ChatTokenizer, Prompt, build_prompt
from mlxfn.pipeline.reading import OutputReading, build_reading


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
        return build_prompt(request.conversation, tokenizer, offered_tools(request.tools))

    def plan_of(prompt: Prompt) -> Result[GenerationPlan, ApiError]:
        return build_plan(request, prompt, limits)

    def read_with(plan: GenerationPlan) -> Result[GenerationPlan, ApiError]:
        return build_reading(request.tools, tokenizer, plan.prompt).map(
            lambda reading: plan_tool_calls(plan, reading, request.tools)
        )

    return flow(
        check_model(served, request.model),
        bind(limits_of),
        bind(prompt_of),
        bind(plan_of),
        bind(read_with),
    )


def plan_tool_calls(
    plan: GenerationPlan, reading: OutputReading, tools: ToolSpec | None
) -> GenerationPlan:
    """Settle how tool calls are read and bounded. Without ``parallel_tool_calls`` the
    generation ends at the first call's end marker (a stop string, so at most one call; the
    reader takes the call whose end the stop scan removed)."""
    calls = reading.markup.calls
    stop = plan.stop
    if tools is not None and not tools.parallel and calls is not None and calls.end:
        stop = (*stop, calls.end)
    return attrs.evolve(plan, reading=reading, stop=stop)


def offered_tools(tools: ToolSpec | None) -> tuple[FunctionTool, ...]:
    """The tools the template shows the model: none for ``tool_choice: none``, so that a
    model that has not seen them does not call them."""
    if tools is None or tools.choice == "none":
        return ()
    return tools.tools
